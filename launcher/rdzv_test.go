package launcher

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata scripts")

// TestRendezvous_Scripts runs testdata/rdzv/*.txt: each block is a command
// line, "----", and the expected output, ended by a blank line.
//
//	new min=1 max=2 lastcall=30s timeout=10m [survivors=20s]
//	join n1 slots=2 at=0s [gen=G]
//	leave n2 at=5s
//	abort gen=0 at=6s
//	tick at=40s
func TestRendezvous_Scripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/rdzv/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

type scriptBlock struct{ cmd, want string }

func parseScript(t *testing.T, file string) []scriptBlock {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []scriptBlock
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		b := scriptBlock{cmd: l}
		if i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == "----" {
			i += 2
			var want []string
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				want = append(want, lines[i])
			}
			b.want = strings.Join(want, "\n")
		}
		blocks = append(blocks, b)
	}
	return blocks
}

func runScript(t *testing.T, file string) {
	blocks := parseScript(t, file)
	var r *Rendezvous
	epoch := time.Unix(0, 0)
	var out strings.Builder
	for _, b := range blocks {
		got := runCommand(t, &r, epoch, b.cmd)
		if !*rewrite && got != b.want {
			t.Errorf("%s: %s\n(-want +got):\n%s", file, b.cmd, cmp.Diff(b.want, got))
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n\n", b.cmd, got)
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runCommand(t *testing.T, rp **Rendezvous, epoch time.Time, line string) string {
	f := strings.Fields(line)
	args := map[string]string{}
	var pos []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	dur := func(k, def string) time.Duration {
		s := args[k]
		if s == "" {
			s = def
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return d
	}
	num := func(k string, def int) int {
		if s, ok := args[k]; ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
		return def
	}
	at := epoch.Add(dur("at", "0s"))
	r := *rp
	var o Outcome
	switch f[0] {
	case "new":
		*rp = NewRendezvous(num("min", 1), num("max", 1), dur("lastcall", "30s"), dur("timeout", "10m"))
		(*rp).SurvivorWait = dur("survivors", DefaultSurvivorWait.String())
		return "ok"
	case "join":
		addrs := make([]string, num("slots", 1))
		for i := range addrs {
			addrs[i] = fmt.Sprintf("%s:%d", pos[0], 1000+i)
		}
		o = r.OnJoin(Join{Node: pos[0], Gen: num("gen", r.Gen()), Addrs: addrs}, at)
	case "leave":
		o = r.OnLeave(pos[0], at)
	case "abort":
		o = r.OnAbort(num("gen", r.Gen()), at)
	case "lost":
		o = r.OnLost(num("gen", r.Gen()), pos[0], at)
	case "shrink":
		o = r.OnShrink(pos[0], at)
	case "tick":
		o = r.OnTick(at)
	default:
		t.Fatalf("unknown command %q", line)
	}
	return describe(r, o)
}

func describe(r *Rendezvous, o Outcome) string {
	var s []string
	if o.World != nil {
		var nodes []string
		for i, n := range o.World.Nodes {
			nodes = append(nodes, fmt.Sprintf("%s=node%d:ranks%d-%d", n.Name, i, n.FirstRank, n.FirstRank+n.Slots-1))
		}
		inPlace := ""
		if o.World.InPlace {
			inPlace = " in-place"
		}
		s = append(s, fmt.Sprintf("world gen=%d%s size=%d %s", o.World.Gen, inPlace, o.World.Size(), strings.Join(nodes, " ")))
	}
	if o.Abort != "" {
		s = append(s, "abort: "+o.Abort)
	}
	if o.Fail != nil {
		s = append(s, "fail: "+o.Fail.Error())
	}
	if o.Note != "" {
		s = append(s, "note: "+o.Note)
	}
	s = append(s, fmt.Sprintf("state gen=%d waiting=[%s]", r.Gen(), r.names()))
	return strings.Join(s, "\n")
}
