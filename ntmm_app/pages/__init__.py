"""One page per wizard step: Data, Teacher, Distill, Optimize, Benchmark, Predict."""
