# The Python interpreter of the recipes (sourced from a recipe folder, Kaldi/Asteroid style):
# $PYTHON, else the repository's .venv, else python3.
python=${PYTHON:-}
[[ -z $python && -x ../../.venv/bin/python ]] && python=../../.venv/bin/python
python=${python:-python3}
