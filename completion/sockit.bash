# SPDX-License-Identifier: BSD-2-Clause
# bash completion for sockit(1).
#
# Everything it offers comes from the sockit being completed, so it can
# never disagree with it: the commands from `sockit --help`, the options
# of each from `sockit COMMAND --help` (an option spelled with one space
# and a word after it, "--model MODEL", takes a value), the services and
# models from `sockit serve --service list` and `--model list`, and the
# socket options from `sockit sockopt`.  Each answer is asked for once per
# shell and kept.

# _sockit_ask KEY SOCKIT ARGS...: the output of SOCKIT ARGS, cached under
# KEY and that sockit's path.
_sockit_ask()
{
    local var=_sockit_cache_$1_$2
    shift
    var=${var//[^A-Za-z0-9_]/_}
    if [[ -z ${!var+set} ]]; then
        printf -v "$var" '%s' "$("$@" 2>/dev/null)"
    fi
    printf '%s\n' "${!var}"
}

# The commands: the indented lines under "commands:" in `sockit --help`.
_sockit_commands()
{
    _sockit_ask commands "$1" --help |
        awk '/^commands:/ {c = 1; next} c && /^  [a-z]/ {print $1} c && /^$/ {exit}'
}

# The options of command $2: the lines of its --help that start with one
# (continuation lines are indented further).
_sockit_options()
{
    _sockit_ask "help_$2" "$1" "$2" --help |
        grep -oE '^ {1,8}(-[A-Za-z0-9], )?--[a-z][a-z0-9-]*' |
        grep -oE '(-[A-Za-z0-9]|--[a-z][a-z0-9-]*)' | awk '!seen[$0]++'
}

# The options of command $2 that take a value: "-m, --model MODEL".
_sockit_options_with_values()
{
    _sockit_ask "help_$2" "$1" "$2" --help |
        grep -oE '^ {1,8}(-[A-Za-z0-9], )?--[a-z][a-z0-9-]* [^ ]' |
        grep -oE '(-[A-Za-z0-9]|--[a-z][a-z0-9-]*)'
}

# First column of a `sockit serve --X list` table, without its header
# and without what cannot run here ("(unavailable: ...)").
_sockit_list()
{
    _sockit_ask "list_$2" "$1" serve "--$2" list | awk 'NR > 1 && !/\(unavailable/ {print $1}'
}

_sockit_sockopts()
{
    _sockit_ask sockopts "$1" sockopt | awk 'NR > 1 && NF > 1 {print $1}'
}

_sockit()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev= sockit=${COMP_WORDS[0]}
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()
    # A sockit that cannot run (a typo, or not on PATH) offers nothing.
    type -P "$sockit" >/dev/null 2>&1 || [[ -x $sockit ]] || return 0

    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "$(_sockit_commands "$sockit") --help --version" -- "$cur"))
        return 0
    fi
    local cmd=${COMP_WORDS[1]}

    # The value of the option before the cursor.
    if [[ $prev == -* ]] && grep -qxF -- "$prev" <(_sockit_options_with_values "$sockit" "$cmd"); then
        case $cmd:$prev in
        serve:-m | serve:--model) COMPREPLY=($(compgen -W "$(_sockit_list "$sockit" model) list" -- "$cur")) ;;
        serve:--service) COMPREPLY=($(compgen -W list -- "$cur")) ;;
        serve:--sockopt) COMPREPLY=($(compgen -S = -W "$(_sockit_sockopts "$sockit")" -- "$cur"))
            compopt -o nospace 2>/dev/null ;;
        serve:--root | compare:--peer-dir) COMPREPLY=($(compgen -d -- "$cur")) ;;
        serve:--log | get:-o | get:--output | compare:--json | compare:--markdown)
            COMPREPLY=($(compgen -f -- "$cur")) ;;
        compare:--models) COMPREPLY=($(compgen -W "$(_sockit_list "$sockit" model) none" -- "$cur")) ;;
        mcast:--loop) COMPREPLY=($(compgen -W "on off" -- "$cur")) ;;
        bench:--engine) COMPREPLY=($(compgen -W "uring poll auto" -- "$cur")) ;;
        esac
        return 0
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_sockit_options "$sockit" "$cmd")" -- "$cur"))
        return 0
    fi

    # The first word after the command that is neither an option nor an
    # option's value.
    local i word nargs=0 takes
    takes=$(_sockit_options_with_values "$sockit" "$cmd")
    for ((i = 2; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == -* ]]; then
            grep -qxF -- "$word" <<<"$takes" && ((i++))
        else
            ((nargs++))
        fi
    done
    case $cmd in
    serve)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "$(_sockit_list "$sockit" service)" -- "$cur"))
        ((nargs == 1)) && [[ ${COMP_WORDS[*]} == *" file "* ]] && COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    mcast)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "send recv" -- "$cur"))
        ((nargs == 3)) && COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    sockopt)
        COMPREPLY=($(compgen -W "$(_sockit_sockopts "$sockit")" -- "$cur"))
        ;;
    bench)
        if [[ " ${COMP_WORDS[*]} " == *" --merge "* ]]; then
            COMPREPLY=($(compgen -f -X '!*.json' -- "$cur"))
        elif ((nargs == 0)); then
            COMPREPLY=($(compgen -A hostname -- "$cur"))
        fi
        ;;
    echo | get | chat)
        ((nargs == 0)) && COMPREPLY=($(compgen -A hostname -- "$cur"))
        ;;
    esac
    return 0
}
complete -F _sockit sockit
