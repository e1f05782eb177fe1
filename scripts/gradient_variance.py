"""The REINFORCE estimate against the exact policy gradient: bias, variance, and v(s0) vs p.

``python scripts/gradient_variance.py [env=ShortCorridor-v0] [p=0.5] [episodes=4000] [seed=0]
[out=outputs/gradient_variance]``. The same program as ``softmax-reinforce gradient-variance``:
:func:`agents.tools.commands.gradient_variance` over :mod:`agents.studies.gradient_variance`
(which the tests call). ``--help`` lists the keys.
"""

from __future__ import annotations

from agents.tools.commands import gradient_variance as main

if __name__ == "__main__":
    main()
