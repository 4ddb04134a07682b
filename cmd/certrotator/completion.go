package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/template"
)

// cliFlag is one flag of a command, as its -h lists it.
type cliFlag struct {
	Name  string // with its dashes: -c, --wait
	Bare  string // without: c, wait
	Value bool   // takes a value
	File  bool   // the value is a file or folder
	Usage string
}

// fileFlags are the flags whose value is a path, completed from files.
var fileFlags = []string{"c", "password-file", "dir"}

// commandFlags lists a command's flags by asking the command itself for
// -h, so that completion never drifts from the flags the commands define.
// Every command parses its flags before doing anything else.
func commandFlags(ctx context.Context, name string) []cliFlag {
	var help bytes.Buffer
	e := &env{ctx: ctx, stdout: &help, stderr: io.Discard, lookup: func(string) (string, bool) { return "", false }}
	commands()[name].invoke(e, name, []string{"--help"})
	var flags []cliFlag
	lines := strings.Split(help.String(), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "  -") {
			continue
		}
		fields := strings.Fields(l)
		n := strings.TrimLeft(fields[0], "-")
		if n == "help" {
			continue // every command has it; completion offers the command's own
		}
		f := cliFlag{Name: fields[0], Bare: n, Value: len(fields) > 1, File: slices.Contains(fileFlags, n)}
		if i+1 < len(lines) {
			f.Usage = strings.TrimSpace(lines[i+1])
		}
		flags = append(flags, f)
	}
	return flags
}

func cmdCompletion(e *env, fs *flag.FlagSet, args []string) int {
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	templates := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}
	if templates[pos[0]] == "" {
		return usageError(e, "completion takes one shell: bash, zsh or fish, got %q", pos[0])
	}
	type cmdInfo struct {
		Name, Summary string
		Flags         []cliFlag
		Job           bool
	}
	var cmds []cmdInfo
	for name, c := range commands() {
		info := cmdInfo{Name: name, Summary: c.summary, Job: c.args.name() == "JOB"}
		if name != "completion" && name != "__jobs" {
			info.Flags = commandFlags(e.ctx, name)
		}
		cmds = append(cmds, info)
	}
	// version is answered before the command table (version.go).
	cmds = append(cmds, cmdInfo{Name: "version", Summary: "print the version and commit"})
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	funcs := template.FuncMap{"zq": zshQuote, "zi": zshItem, "fq": fishQuote}
	t := template.Must(template.New(pos[0]).Funcs(funcs).Parse(templates[pos[0]]))
	data := struct {
		Cmds      []cmdInfo
		FileFlags string
	}{cmds, strings.Join(fileFlags, " ")}
	if err := t.Execute(e.stdout, data); err != nil {
		fmt.Fprintf(e.stderr, "certrotator: writing completion: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// zshQuote makes s safe inside a single-quoted _arguments description.
func zshQuote(s string) string {
	return strings.NewReplacer("'", `'\''`, "[", `\[`, "]", `\]`).Replace(s)
}

// zshItem makes s safe inside a single-quoted _describe item, where a
// colon ends the name.
func zshItem(s string) string {
	return strings.NewReplacer("'", `'\''`, ":", `\:`).Replace(s)
}

// fishQuote makes s one single-quoted fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// cmdJobs prints the config's job names, one a line: completion asks it for
// the JOB argument. It is not listed in the usage.
func cmdJobs(e *env, fs *flag.FlagSet, args []string) int {
	path := configFlag(e, fs)
	if _, err := parse(fs, args); err != nil || *path == "" {
		return exitUsage
	}
	e.stderr = io.Discard // a half-typed config is no reason to print
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	for _, j := range cfg.Jobs {
		fmt.Fprintln(e.stdout, j.Name)
	}
	return exitOK
}

const bashCompletion = `# bash completion for certrotator.
# Load it with: source <(certrotator completion bash)
_certrotator() {
    local cur prev cmd i cfg
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    if [[ ${COMP_CWORD} -eq 1 ]]; then
        COMPREPLY=($(compgen -W "{{range .Cmds}}{{if ne .Name "__jobs"}}{{.Name}} {{end}}{{end}}" -- "${cur}"))
        return 0
    fi
    cmd="${COMP_WORDS[1]}"
    local p="${prev#-}"
    p="${p#-}"
    if [[ "${prev}" == -* && " {{.FileFlags}} " == *" ${p} "* ]]; then
        COMPREPLY=($(compgen -f -- "${cur}"))
        return 0
    fi
    local flags="" values="" jobs=""
    case "${cmd}" in
{{- range .Cmds}}{{if ne .Name "__jobs"}}
        {{.Name}}) flags="{{range .Flags}}{{.Name}} {{end}}"; values="{{range .Flags}}{{if .Value}}{{.Bare}} {{end}}{{end}}"{{if .Job}}; jobs=1{{end}} ;;
{{- end}}{{end}}
        *) return 0 ;;
    esac
    if [[ "${prev}" == -* && " ${values} " == *" ${p} "* ]]; then
        return 0
    fi
    if [[ "${cur}" == -* ]]; then
        COMPREPLY=($(compgen -W "${flags}" -- "${cur}"))
        return 0
    fi
    if [[ -n "${jobs}" ]]; then
        cfg=""
        for ((i = 2; i < COMP_CWORD; i++)); do
            if [[ "${COMP_WORDS[i]}" == -c || "${COMP_WORDS[i]}" == --c ]]; then
                cfg="${COMP_WORDS[i+1]}"
            fi
        done
        COMPREPLY=($(compgen -W "$(certrotator __jobs ${cfg:+-c "${cfg}"} 2>/dev/null)" -- "${cur}"))
        return 0
    fi
    COMPREPLY=($(compgen -f -- "${cur}"))
}
complete -o filenames -o bashdefault -F _certrotator certrotator
`

const zshCompletion = `#compdef certrotator
# zsh completion for certrotator.
# Load it with: source <(certrotator completion zsh)
# or save it as _certrotator in a folder of $fpath.

_certrotator_jobs() {
    local cfg i
    for ((i = 2; i < CURRENT; i++)); do
        if [[ "${words[i]}" == -c || "${words[i]}" == --c ]]; then
            cfg="${words[i+1]}"
        fi
    done
    local -a jobs
    jobs=(${(f)"$(certrotator __jobs ${cfg:+-c "$cfg"} 2>/dev/null)"})
    _describe 'job' jobs
}

_certrotator() {
    local -a cmds
    cmds=(
{{- range .Cmds}}{{if ne .Name "__jobs"}}
        '{{.Name}}:{{zi .Summary}}'
{{- end}}{{end}}
    )
    if (( CURRENT == 2 )); then
        _describe 'command' cmds
        return
    fi
    case "${words[2]}" in
{{- range .Cmds}}{{if ne .Name "__jobs"}}
    {{.Name}})
        _arguments -S \
{{- range .Flags}}
            '{{.Name}}[{{zq .Usage}}]{{if .Value}}:value:{{if .File}}_files{{else}} {{end}}{{end}}' \
{{- end}}
            '*:argument:{{if .Job}}_certrotator_jobs{{else}}_files{{end}}'
        ;;
{{- end}}{{end}}
    esac
}

if [[ "$funcstack[1]" == "_certrotator" ]]; then
    _certrotator "$@"
else
    compdef _certrotator certrotator
fi
`

const fishCompletion = `# fish completion for certrotator.
# Load it with: certrotator completion fish | source
# or save it: certrotator completion fish > ~/.config/fish/completions/certrotator.fish

# __certrotator_jobs lists the jobs of the config named by -c on the line.
function __certrotator_jobs
    set -l words (commandline -opc)
    set -l cfg
    for i in (seq (count $words))
        if test "$words[$i]" = -c; and test $i -lt (count $words)
            set cfg -c $words[(math $i + 1)]
        end
    end
    certrotator __jobs $cfg 2>/dev/null
end

complete -c certrotator -f
{{- range .Cmds}}{{if ne .Name "__jobs"}}
complete -c certrotator -n __fish_use_subcommand -a {{.Name}} -d {{fq .Summary}}
{{- end}}{{end}}
{{- range .Cmds}}{{if ne .Name "__jobs"}}
{{- $cmd := .Name}}
{{- range .Flags}}
complete -c certrotator -n '__fish_seen_subcommand_from {{$cmd}}' {{if eq (len .Bare) 1}}-s {{.Bare}}{{else}}-l {{.Bare}}{{end}}{{if .Value}} -r{{if .File}} -F{{end}}{{end}} -d {{fq .Usage}}
{{- end}}
{{- if .Job}}
complete -c certrotator -n '__fish_seen_subcommand_from {{$cmd}}' -a '(__certrotator_jobs)'
{{- else}}
complete -c certrotator -n '__fish_seen_subcommand_from {{$cmd}}' -F
{{- end}}
{{- end}}{{end}}
`
