"""Prediction with any model NTMM wrote: predictors, text files in, predictions out."""
