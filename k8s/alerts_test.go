package k8s_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The alert rules and the Grafana dashboard in alerts/ are checked with
// Prometheus' promtool (Debian package prometheus; scripts/setup.sh
// installs it); the tests skip without it.

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("no promtool (Debian package prometheus; scripts/setup.sh installs it): the rules are not checked")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = "alerts"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAlerts_CheckRules: the rules parse, and their queries and templates
// are valid.
func TestAlerts_CheckRules(t *testing.T) {
	runPromtool(t, "check", "rules", "ddprun-rules.yaml")
}

// TestAlerts_UnitTests: the input series of ddprun-rules_test.yaml raise
// exactly the alerts it expects, when it expects them.
func TestAlerts_UnitTests(t *testing.T) {
	runPromtool(t, "test", "rules", "ddprun-rules_test.yaml")
}

// TestDashboard_Queries: every query of the Grafana dashboard parses
// (written as recording rules, with Grafana's variables replaced, for
// promtool check rules), and every panel uses the datasource variable.
func TestDashboard_Queries(t *testing.T) {
	b, err := os.ReadFile("alerts/ddprun-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$__rate_interval", "1m", "$job", "j")
	var rules []map[string]string
	for _, p := range d.Panels {
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %q with %d queries", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for i, tg := range p.Targets {
			rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:panel_%d:%d", len(rules), i), "expr": vars.Replace(tg.Expr)})
		}
	}
	if d.UID == "" || len(rules) == 0 {
		t.Fatalf("dashboard uid %q, %d queries", d.UID, len(rules))
	}
	y, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, y, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", path)
}
