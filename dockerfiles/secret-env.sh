# Sourced by the database entrypoints. `secret_env NAME` prints the value of $NAME, or the
# contents of the file named by $NAME_FILE (how Swarm secrets arrive: /run/secrets/...), with a
# trailing newline removed. Setting both is an error, so a stale variable never wins silently.
secret_env() {
    _name=$1
    eval "_value=\${$_name:-}"
    eval "_file=\${${_name}_FILE:-}"
    if [ -n "$_value" ] && [ -n "$_file" ]; then
        echo "error: both $_name and ${_name}_FILE are set; set only one" >&2
        return 1
    fi
    if [ -n "$_file" ]; then
        if [ ! -r "$_file" ]; then
            echo "error: ${_name}_FILE=$_file is not a readable file" >&2
            return 1
        fi
        _value=$(cat "$_file")
    fi
    printf '%s' "$_value"
}
