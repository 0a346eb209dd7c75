"""Faster and smaller variants: ONNX export, INT8 quantization, parity checks, the optimize job."""
