"""The Grid Pipeline dashboard (Streamlit + Plotly); entry point `dashboard/app.py`."""
