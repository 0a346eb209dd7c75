"""What NTMM says about a model: metrics and model cards."""
