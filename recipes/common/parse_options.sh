# Parse "--name value" pairs for run.sh (sourced, Kaldi/Asteroid style).
# Names listed in $run_options set the shell variable of that name; every
# other "--key value" pair is a config flag, collected in the conf_args array
# and checked by the Python scripts (unknown keys are refused there).
# The sourcing script has changed to its own folder and saved the folder it
# was started in as $caller.
conf_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --help|-h)
      sed -n '2,/^set -/p' "$(basename "$0")" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0 ;;
    --*)
      if [[ $# -lt 2 ]]; then echo "$(basename "$0"): error: option $1 needs a value" >&2; exit 2; fi
      name=${1#--}
      if [[ " $run_options " == *" $name "* ]]; then
        printf -v "$name" '%s' "$2"
      else
        conf_args+=("$1" "$2")
      fi
      shift 2 ;;
    *)
      echo "$(basename "$0"): error: unexpected argument '$1' (options are --name value)" >&2
      exit 2 ;;
  esac
done

# from_caller PATH: PATH as given on the command line, relative to $caller
# (unchanged when empty or absolute).
from_caller() {
  if [[ -z $1 || $1 == /* ]]; then echo "$1"; else echo "$caller/$1"; fi
}
