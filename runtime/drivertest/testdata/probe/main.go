// Command probe is the test image of the driver test suite: a static
// program that does one thing per first argument and reports what it sees
// of its sandbox. Started without arguments and with ORC_PROTOCOL=http, it
// is a warm plugin server on $ORC_PORT: GET /healthz, POST /invoke echoes
// its body, GET /sandbox reports.
//
//	probe stdin              copy stdin to stdout
//	probe args A B ...       print the arguments after "args" as a JSON array
//	probe fail CODE MESSAGE  print MESSAGE on stderr and exit with CODE
//	probe sleep MS           sleep, then print "slept"
//	probe spam N [stderr]    write N bytes to stdout (or stderr), then "END"
//	probe drip N MS          write "line I" to stderr N times, MS apart, then "done" to stdout
//	probe oom                allocate memory until killed
//	probe sandbox            print a JSON report of the sandbox
//	probe listen PORT MS     accept connections on PORT for MS
//	probe dial ADDR          print "connected" or "blocked: <error>"
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 && os.Getenv("ORC_PROTOCOL") == "http" {
		serve()
		return
	}
	if len(os.Args) < 2 {
		fatal("usage: probe stdin|args|fail|sleep|spam|drip|oom|sandbox ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "listen":
		ln, err := net.Listen("tcp", ":"+arg(args, 0))
		if err != nil {
			fatal(err.Error())
		}
		ms, _ := strconv.Atoi(arg(args, 1))
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		time.Sleep(time.Duration(ms) * time.Millisecond)
	case "dial":
		c, err := net.DialTimeout("tcp", arg(args, 0), 2*time.Second)
		if err != nil {
			fmt.Println("blocked: " + err.Error())
			return
		}
		c.Close()
		fmt.Println("connected")
	case "stdin":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fatal(err.Error())
		}
	case "args":
		must(json.NewEncoder(os.Stdout).Encode(args))
	case "fail":
		code, _ := strconv.Atoi(arg(args, 0))
		fmt.Fprintln(os.Stderr, arg(args, 1))
		os.Exit(code)
	case "sleep":
		ms, _ := strconv.Atoi(arg(args, 0))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Println("slept")
	case "spam":
		n, _ := strconv.Atoi(arg(args, 0))
		w := os.Stdout
		if arg(args, 1) == "stderr" {
			w = os.Stderr
		}
		line := []byte(strings.Repeat("x", 1023) + "\n")
		for n > 0 {
			k := min(n, len(line))
			_, err := w.Write(line[len(line)-k:])
			must(err)
			n -= k
		}
		fmt.Fprint(w, "END")
	case "drip":
		n, _ := strconv.Atoi(arg(args, 0))
		ms, _ := strconv.Atoi(arg(args, 1))
		for i := 1; i <= n; i++ {
			if i > 1 {
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
			fmt.Fprintf(os.Stderr, "line %d\n", i)
		}
		fmt.Println("done")
	case "oom":
		var hold [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			hold = append(hold, b)
		}
	case "sandbox":
		must(json.NewEncoder(os.Stdout).Encode(sandbox()))
	default:
		fatal("unknown command " + os.Args[1])
	}
}

// serve is a warm plugin server.
func serve() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /invoke", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, r.Body) //nolint:errcheck
	})
	mux.HandleFunc("GET /sandbox", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(sandbox()) //nolint:errcheck
	})
	must(http.ListenAndServe(":"+os.Getenv("ORC_PORT"), mux))
}

// report is what the sandbox command prints.
type report struct {
	UID        int      `json:"uid"`
	GID        int      `json:"gid"`
	Home       string   `json:"home"`
	EtcWrite   string   `json:"etc_write"` // the error of writing to /etc
	EtcRO      bool     `json:"etc_ro"`    // that error is EROFS
	TmpWrite   string   `json:"tmp_write"` // the error of writing to /tmp, "" on success
	TmpMount   string   `json:"tmp_mount"` // mount options of /tmp
	Interfaces []string `json:"interfaces"`
	CapEff     string   `json:"cap_eff"`
	NoNewPrivs string   `json:"no_new_privs"`
	PidsMax    string   `json:"pids_max"`
	MemoryMax  string   `json:"memory_max"`
}

func sandbox() report {
	r := report{UID: os.Getuid(), GID: os.Getgid(), Home: os.Getenv("HOME")}
	err := os.WriteFile("/etc/probe", []byte("x"), 0o644)
	r.EtcWrite, r.EtcRO = errString(err), errors.Is(err, syscall.EROFS)
	r.TmpWrite = errString(os.WriteFile("/tmp/probe", []byte("x"), 0o644))
	r.TmpMount = mountOptions("/tmp")
	ifaces, err := net.Interfaces()
	must(err)
	for _, i := range ifaces {
		r.Interfaces = append(r.Interfaces, i.Name)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "CapEff":
			r.CapEff = strings.TrimSpace(v)
		case "NoNewPrivs":
			r.NoNewPrivs = strings.TrimSpace(v)
		}
	}
	r.PidsMax = firstFile("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max")
	r.MemoryMax = firstFile("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
	return r
}

// mountOptions returns the options of the mount at dir from /proc/mounts.
func mountOptions(dir string) string {
	b, _ := os.ReadFile("/proc/self/mounts")
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == dir {
			return f[3]
		}
	}
	return ""
}

// firstFile returns the trimmed content of the first of paths that exists.
func firstFile(paths ...string) string {
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func must(err error) {
	if err != nil {
		fatal(err.Error())
	}
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "probe:", msg)
	os.Exit(3)
}
