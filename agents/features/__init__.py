"""What the policy reads: state feature maps ``x(s)`` and the policy inputs built from them."""
