"""Incompressible-flow problems on a MAC (staggered) grid: pressure Poisson systems and Navier–Stokes.

(being built: pressure.py / obstacles.py for deep conjugate directions, the Navier–Stokes
operators and the reference solver for NeuralStagger)
"""
