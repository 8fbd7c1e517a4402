"""Serving: the exported ONNX model behind the Open Inference Protocol (V2) and `/predict`.

Nothing here imports pandas, scikit-learn or xgboost: the serving image carries ONNX Runtime,
numpy and the web stack only.

A classifier answers a probability, a decision at its threshold and a label; a regressor one
`prediction`. Either takes its model's features only (`Predictor.columns`): a protected
column, a raw date (send its calendar parts, e.g. `date_day_of_week`) or the target is an
unknown field. Deriving the parts here would need `schema.calendar_part`, which is pandas.
"""
