"""Distillation: building students, the loss, the teacher-output cache, the distill job."""
