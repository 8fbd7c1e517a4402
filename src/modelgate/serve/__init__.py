"""Serving: the exported ONNX model behind the Open Inference Protocol (V2) and `/predict`.

Nothing here imports pandas, scikit-learn or xgboost: the serving image carries ONNX Runtime,
numpy and the web stack only.
"""
