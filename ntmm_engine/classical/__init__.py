"""The classical baseline (TF-IDF + logistic regression): the model every comparison has as a row."""
