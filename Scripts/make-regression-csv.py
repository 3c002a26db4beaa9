#!/usr/bin/env python3
"""Writes docs/data/regression.csv, the README's regression example: 600 rows of three features
a, b, c ~ N(0, 1) and two targets, y = 1.5a - 2b + 0.5c + 3 (linear) and z = sin(2a) + b*c
(not linear), each plus Gaussian noise of sigma 0.1. numpy's default_rng(7): the same file
every time."""
import numpy as np

rng = np.random.default_rng(7)
x = rng.normal(size=(600, 3))
y = 1.5 * x[:, 0] - 2 * x[:, 1] + 0.5 * x[:, 2] + 3 + 0.1 * rng.normal(size=600)
z = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.1 * rng.normal(size=600)
np.savetxt("docs/data/regression.csv", np.c_[x, y, z], delimiter=",", header="a,b,c,y,z", comments="", fmt="%.6f")
