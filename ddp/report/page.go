package report

import "html/template"

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ddprun">
<title>{{.Title}}</title>
<style>
:root { --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --card: #f9fafb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 32px 28px 48px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 18px; margin-bottom: 22px; }
h1 { font-size: 24px; margin: 0 0 2px; letter-spacing: -0.01em; }
h2 { font-size: 17px; margin: 34px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 2px; }
.sub { color: var(--muted); font-size: 13px; }
dl.info { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px 24px; margin: 16px 0 0; }
dl.info div { min-width: 0; }
dl.info dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
dl.info dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.card .v { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 22px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 14px 14px 8px; }
.grid figure svg { display: block; width: 100%; height: auto; }
figure.heat { flex: 0 1 auto; max-width: 100%; }
figure.heat svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; margin-bottom: 6px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 14px; border-bottom: 1px solid var(--line); text-align: right; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
tr.best td { background: #eff6ff; }
.tag { display: inline-block; font-size: 11px; color: var(--accent); border: 1px solid #bfdbfe; border-radius: 4px; padding: 0 5px; margin-left: 6px; }
.split { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
td:first-child { white-space: nowrap; }
.note { color: var(--muted); font-size: 12px; margin-top: 6px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } .cards { grid-template-columns: repeat(2, 1fr); } }
</style>
</head>
<body>
<main>
<header>
<h1>{{.Title}}</h1>
<div class="sub">Generated {{.Generated}} by ddprun</div>
{{if .Info}}<dl class="info">{{range .Info}}<div><dt>{{.Name}}</dt><dd>{{.Value}}</dd></div>{{end}}</dl>{{end}}
</header>
{{if .Cards}}
<section>
<div class="cards">{{range .Cards}}<div class="card"><div class="k">{{.Name}}</div><div class="v">{{.Value}}</div></div>{{end}}</div>
</section>
{{end}}
<section>
<h2>Training</h2>
<div class="grid">
{{range .Charts}}<figure><h3>{{.Title}}</h3><figcaption>{{.Caption}}</figcaption>{{.SVG}}</figure>
{{end}}</div>
</section>
{{if .Evals}}
<section>
<h2>Evaluations</h2>
<table>
<thead><tr><th>Step</th><th>Epoch</th><th>Loss</th><th>Accuracy</th><th>Macro-F1</th></tr></thead>
<tbody>
{{range .Evals}}<tr{{if .Best}} class="best"{{end}}><td>{{.Step}}{{if .Best}}<span class="tag">best</span>{{end}}</td><td>{{.Epoch}}</td><td>{{.Loss}}</td><td>{{.Acc}}</td><td>{{.F1}}</td></tr>
{{end}}</tbody>
</table>
</section>
{{end}}
{{with .Baseline}}
<section>
<h2>Against a baseline</h2>
<p class="note">Baseline: {{.Name}}, fitted on the same training split in seconds. A model worth its cost beats it.</p>
<table>
<thead><tr><th>Split</th><th>Model</th><th>Accuracy</th><th>Macro-F1</th>{{range .Labels}}<th>Recall {{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Model}} class="best"{{end}}><td>{{.Split}}</td><td>{{.Who}}</td><td>{{.Acc}}</td><td>{{.F1}}</td>{{range .Recall}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
</section>
{{end}}
{{with .Test}}
<section>
<h2>Test set</h2>
<div class="split">
<figure class="heat"><h3>Confusion matrix</h3><figcaption>Rows: true class; columns: predicted. Colour: share of the true class.</figcaption>{{$.Heatmap}}</figure>
<div>
<h3>Per-class metrics</h3>
<table>
<thead><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th></tr></thead>
<tbody>
{{range .Classes}}<tr><td>{{.Label}}</td><td>{{printf "%.4f" .Precision}}</td><td>{{printf "%.4f" .Recall}}</td><td>{{printf "%.4f" .F1}}</td><td>{{.Support}}</td></tr>
{{end}}<tr class="total"><td>Macro average</td><td>{{printf "%.4f" .MacroPrecision}}</td><td>{{printf "%.4f" .MacroRecall}}</td><td>{{printf "%.4f" .MacroF1}}</td><td>{{.N}}</td></tr>
<tr><td>Accuracy</td><td></td><td></td><td>{{printf "%.4f" .Accuracy}}</td><td>{{.N}}</td></tr>
</tbody>
</table>
<p class="note">A class never predicted has precision 0 (scikit-learn's zero_division=0).</p>
</div>
</div>
</section>
{{end}}
<footer>Self-contained report: no scripts, no external resources.</footer>
</main>
</body>
</html>
`))
