package process

import "strings"

// Environ returns process.env as the program receives it, as runc does: a
// name given more than once appears once, where it first appears, with the
// value given last; and when HOME is missing or empty, HOME is home()
// (runc: the home directory of process.user in the container's
// /etc/passwd, "/" without an entry), in place of an empty HOME or at the
// end. home is called only then. An entry without "=" (which runc refuses
// and execve(2) passes on) is a name like the others.
func Environ(env []string, home func() string) []string {
	out := MergeEnv(env)
	for i, kv := range out {
		if name, val, _ := strings.Cut(kv, "="); name == "HOME" {
			if val == "" {
				out[i] = "HOME=" + home()
			}
			return out
		}
	}
	return append(out, "HOME="+home())
}

// MergeEnv collapses the names given more than once in env: each keeps
// its first position and its last value (what runc's os.Setenv of each
// entry in turn, then os.Environ, gives). env itself is not changed.
func MergeEnv(env []string) []string {
	out := make([]string, 0, len(env))
	at := make(map[string]int, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := at[name]; ok {
			out[i] = kv
			continue
		}
		at[name] = len(out)
		out = append(out, kv)
	}
	return out
}
