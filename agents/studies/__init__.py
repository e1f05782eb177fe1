"""Studies of the math: exact gradients of small MDPs, gradient variance, score comparisons on real
states, Sutton & Barto's figures. Built on the runtime; never imports :mod:`agents.tools`."""
