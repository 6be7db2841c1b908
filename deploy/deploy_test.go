package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const root = ".." // the repository root, seen from deploy/

// ---------------------------------------------------------------- JSON files

// checkers names every JSON file in deploy/ and the test that lints it: a
// new JSON file without a checker fails TestEveryJSONFileIsLinted.
var checkers = map[string]string{
	"task-definition.json":  "TestTaskDefinition",
	"iam-policy.json":       "TestTaskRolePolicy",
	"scheduler-policy.json": "TestSchedulerPolicy",
	"trust-ecs-tasks.json":  "TestTrustPolicies",
	"trust-scheduler.json":  "TestTrustPolicies",
	"schedule.json":         "TestSchedule",
}

func jsonFiles(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func TestEveryJSONFileIsLinted(t *testing.T) {
	names := jsonFiles(t)
	for _, n := range names {
		if _, ok := checkers[n]; !ok {
			t.Errorf("%s has no checker in deploy_test.go: add one to checkers", n)
		}
	}
	for n := range checkers {
		if !slices.Contains(names, n) {
			t.Errorf("checker for %s, but the file is missing", n)
		}
	}
}

// TestJSONParses checks every JSON file is one well-formed object with no
// duplicate keys (encoding/json would silently keep the last).
func TestJSONParses(t *testing.T) {
	for _, n := range jsonFiles(t) {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkDuplicateKeys(b); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Errorf("%s: content after the JSON object", n)
		}
	}
}

func checkDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func(where string) error
	walk = func(where string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %q in %s", key, where)
				}
				seen[key] = true
				if err := walk(where + "." + key); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", where, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk("$")
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// onlyKeys reports keys of m outside allowed (typos such as
// "awsVpcConfiguration" are otherwise silently ignored or rejected late).
func onlyKeys(t *testing.T, where string, m map[string]any, allowed ...string) {
	t.Helper()
	for k := range m {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: unknown key %q (allowed: %s)", where, k, strings.Join(allowed, ", "))
		}
	}
}

func obj(t *testing.T, where string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want an object, got %T", where, v)
	}
	return m
}

func str(t *testing.T, where string, v any) string {
	t.Helper()
	s, ok := v.(string)
	if !ok || s == "" {
		t.Errorf("%s: want a non-empty string, got %#v", where, v)
	}
	return s
}

// strs accepts a string or an array of strings (as IAM does).
func strs(t *testing.T, where string, v any) []string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for i, e := range x {
			out = append(out, str(t, fmt.Sprintf("%s[%d]", where, i), e))
		}
		if len(out) == 0 {
			t.Errorf("%s: empty list", where)
		}
		return out
	}
	t.Errorf("%s: want a string or a list of strings, got %#v", where, v)
	return nil
}

// ---------------------------------------------------------- task definition

type taskDef struct {
	Family                  string         `json:"family"`
	TaskRoleArn             string         `json:"taskRoleArn"`
	ExecutionRoleArn        string         `json:"executionRoleArn"`
	NetworkMode             string         `json:"networkMode"`
	RequiresCompatibilities []string       `json:"requiresCompatibilities"`
	CPU                     any            `json:"cpu"`
	Memory                  any            `json:"memory"`
	RuntimePlatform         map[string]any `json:"runtimePlatform"`
	ContainerDefinitions    []struct {
		Name        string   `json:"name"`
		Image       string   `json:"image"`
		Essential   *bool    `json:"essential"`
		Command     []string `json:"command"`
		EntryPoint  []string `json:"entryPoint"`
		StopTimeout *int     `json:"stopTimeout"`
		User        string   `json:"user"`
		Environment []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"environment"`
		Secrets []struct {
			Name      string `json:"name"`
			ValueFrom string `json:"valueFrom"`
		} `json:"secrets"`
		LogConfiguration struct {
			LogDriver string            `json:"logDriver"`
			Options   map[string]string `json:"options"`
		} `json:"logConfiguration"`
	} `json:"containerDefinitions"`
}

func loadTaskDef(t *testing.T) taskDef {
	t.Helper()
	var td taskDef
	readJSON(t, "task-definition.json", &td)
	if len(td.ContainerDefinitions) != 1 {
		t.Fatalf("task-definition.json: want exactly one container, got %d", len(td.ContainerDefinitions))
	}
	return td
}

// env returns the task definition's container environment as a map.
func (td taskDef) env() map[string]string {
	m := map[string]string{}
	for _, e := range td.ContainerDefinitions[0].Environment {
		m[e.Name] = e.Value
	}
	return m
}

var (
	roleARN    = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/[\w+=,.@/-]+$`)
	clusterARN = regexp.MustCompile(`^arn:aws:ecs:([a-z0-9-]+):(\d{12}):cluster/[\w-]+$`)
	taskDefARN = regexp.MustCompile(`^arn:aws:ecs:([a-z0-9-]+):(\d{12}):task-definition/([\w-]+)(:\d+)?$`)
	ecrImage   = regexp.MustCompile(`^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$`)
)

// fargateMemory lists the memory sizes (MiB) Fargate accepts per CPU unit.
var fargateMemory = map[string][]string{
	"256":  {"512", "1024", "2048"},
	"512":  {"1024", "2048", "3072", "4096"},
	"1024": {"2048", "3072", "4096", "5120", "6144", "7168", "8192"},
	"2048": {"4096", "5120", "6144", "7168", "8192", "9216", "10240", "11264", "12288", "13312", "14336", "15360", "16384"},
}

func TestTaskDefinition(t *testing.T) {
	var raw map[string]any
	readJSON(t, "task-definition.json", &raw)
	// RegisterTaskDefinition input keys used here (a subset of the API).
	onlyKeys(t, "task-definition.json", raw, "family", "taskRoleArn", "executionRoleArn",
		"networkMode", "requiresCompatibilities", "runtimePlatform", "cpu", "memory",
		"containerDefinitions", "volumes", "ephemeralStorage", "tags")
	for i, c := range raw["containerDefinitions"].([]any) {
		onlyKeys(t, fmt.Sprintf("containerDefinitions[%d]", i), obj(t, "container", c),
			"name", "image", "essential", "command", "entryPoint", "stopTimeout", "user",
			"environment", "secrets", "logConfiguration", "readonlyRootFilesystem",
			"mountPoints", "ulimits", "cpu", "memory", "memoryReservation")
	}

	td := loadTaskDef(t)
	c := td.ContainerDefinitions[0]
	if td.Family == "" {
		t.Error("family is missing")
	}
	if !slices.Contains(td.RequiresCompatibilities, "FARGATE") {
		t.Errorf("requiresCompatibilities = %v, want FARGATE in it", td.RequiresCompatibilities)
	}
	if td.NetworkMode != "awsvpc" {
		t.Errorf("networkMode = %q, Fargate needs awsvpc", td.NetworkMode)
	}
	cpu, ok1 := td.CPU.(string)
	mem, ok2 := td.Memory.(string)
	if !ok1 || !ok2 {
		t.Fatalf("cpu and memory must be strings, got %#v and %#v", td.CPU, td.Memory)
	}
	if cpu != "1024" {
		t.Errorf("cpu = %q, want 1024 (1 vCPU)", cpu)
	}
	if !slices.Contains(fargateMemory[cpu], mem) {
		t.Errorf("memory %q is not a Fargate size for cpu %q (%v)", mem, cpu, fargateMemory[cpu])
	}
	if mem != "2048" && mem != "3072" && mem != "4096" {
		t.Errorf("memory = %q, want 2-4 GB", mem)
	}
	for _, r := range []struct{ name, arn string }{{"taskRoleArn", td.TaskRoleArn}, {"executionRoleArn", td.ExecutionRoleArn}} {
		if !roleARN.MatchString(r.arn) {
			t.Errorf("%s = %q is not an IAM role ARN", r.name, r.arn)
		}
	}
	if td.TaskRoleArn == td.ExecutionRoleArn {
		t.Error("taskRoleArn and executionRoleArn should be different roles (the task role holds the data permissions)")
	}

	if c.Name == "" {
		t.Error("containerDefinitions[0].name is missing")
	}
	if !ecrImage.MatchString(c.Image) {
		t.Errorf("containerDefinitions[0].image = %q, want an ECR image with a tag or digest", c.Image)
	}
	if strings.HasSuffix(c.Image, ":latest") {
		t.Errorf("image %q: pin a version, not :latest", c.Image)
	}
	if c.Essential == nil || !*c.Essential {
		t.Error("containerDefinitions[0].essential must be true")
	}
	if len(c.EntryPoint) != 0 {
		t.Errorf("entryPoint %v overrides the image's /cdcmerge", c.EntryPoint)
	}
	if len(c.Command) == 0 || c.Command[0] != "run" {
		t.Errorf("command = %v, want [run ...]", c.Command)
	}
	// Fargate allows up to 120 s between SIGTERM and SIGKILL; cdcmerge uses
	// it to finish or abandon the current batch without a partial commit.
	if c.StopTimeout == nil || *c.StopTimeout < 30 || *c.StopTimeout > 120 {
		t.Errorf("stopTimeout = %v, want 30..120 seconds", c.StopTimeout)
	}
	if c.User != "" && !nonRootUser(c.User) {
		t.Errorf("user = %q runs as root", c.User)
	}
	lc := c.LogConfiguration
	if lc.LogDriver != "awslogs" {
		t.Errorf("logConfiguration.logDriver = %q, want awslogs", lc.LogDriver)
	}
	for _, k := range []string{"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} {
		if lc.Options[k] == "" {
			t.Errorf("logConfiguration.options.%s is missing (Fargate needs it)", k)
		}
	}

	env := td.env()
	if len(env) != len(c.Environment) {
		t.Error("an environment variable is set twice")
	}
	for _, name := range []string{"CDCMERGE_SOURCE", "CDCMERGE_WAREHOUSE", "CDCMERGE_CATALOG", "CDCMERGE_KEY", "CDCMERGE_LOG_LEVEL"} {
		if env[name] == "" {
			t.Errorf("environment %s is missing", name)
		}
	}
	for _, name := range []string{"CDCMERGE_SOURCE", "CDCMERGE_WAREHOUSE"} {
		if b, p := s3URL(env[name]); b == "" || p == "" {
			t.Errorf("%s = %q, want s3://bucket/prefix", name, env[name])
		}
	}
	if env["CDCMERGE_CATALOG"] != "glue" {
		t.Errorf("CDCMERGE_CATALOG = %q, want glue", env["CDCMERGE_CATALOG"])
	}
	if v := env["CDCMERGE_LOG_LEVEL"]; !slices.Contains([]string{"error", "warn", "info", "debug"}, v) {
		t.Errorf("CDCMERGE_LOG_LEVEL = %q", v)
	}
	if v, ok := env["CDCMERGE_OUTPUT"]; ok && v != "text" && v != "json" {
		t.Errorf("CDCMERGE_OUTPUT = %q", v)
	}
	if _, err := keyTables(env["CDCMERGE_KEY"]); err != nil {
		t.Errorf("CDCMERGE_KEY: %v", err)
	}
	if r := env["AWS_REGION"]; r != "" && r != lc.Options["awslogs-region"] {
		t.Errorf("AWS_REGION %q differs from awslogs-region %q", r, lc.Options["awslogs-region"])
	}
}

// TestTaskDefinitionSettingsExist checks every CDCMERGE_* name in the task
// definition is a setting of cdcmerge, as the README's settings table lists
// them (a misspelt name would be silently ignored at run time).
func TestTaskDefinitionSettingsExist(t *testing.T) {
	settings := readmeSettings(t)
	td := loadTaskDef(t)
	var names []string
	for _, e := range td.ContainerDefinitions[0].Environment {
		names = append(names, e.Name)
	}
	for _, s := range td.ContainerDefinitions[0].Secrets {
		names = append(names, s.Name)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "CDCMERGE_") && !settings[n] {
			t.Errorf("environment %s is not a cdcmerge setting (README settings table)", n)
		}
	}
}

// readmeSettings parses the environment names out of the README's settings
// table: rows starting with "| `--", the name in the second cell.
func readmeSettings(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) < 2 {
			t.Fatalf("README settings row %q has no environment cell", line)
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if !strings.HasPrefix(name, "CDCMERGE_") {
			t.Fatalf("README settings row %q: second cell %q is not a CDCMERGE_* name", line, name)
		}
		out[name] = true
	}
	if len(out) < 5 {
		t.Fatalf("found only %d settings in the README table", len(out))
	}
	return out
}

func s3URL(u string) (bucket, prefix string) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", ""
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, strings.Trim(prefix, "/")
}

// keyTables parses CDCMERGE_KEY (schema.table=col[,col...] separated by ";")
// and returns the schema.table names.
func keyTables(v string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		tbl, cols, ok := strings.Cut(part, "=")
		ns, _, dotted := strings.Cut(tbl, ".")
		if !ok || !dotted || ns == "" || cols == "" {
			return nil, fmt.Errorf("%q is not schema.table=col[,col...]", part)
		}
		for _, c := range strings.Split(cols, ",") {
			if strings.TrimSpace(c) == "" {
				return nil, fmt.Errorf("%q has an empty column", part)
			}
		}
		out = append(out, tbl)
	}
	if len(out) == 0 {
		return nil, errors.New("no tables")
	}
	return out, nil
}

// ------------------------------------------------------------------- secrets

var (
	awsKeyID      = regexp.MustCompile(`\b(AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b`)
	awsSecretLike = regexp.MustCompile(`(^|[^A-Za-z0-9/+=])([A-Za-z0-9/+=]{40})($|[^A-Za-z0-9/+=])`)
	secretName    = regexp.MustCompile(`(?i)secret|password|passwd|token|credential|private[_-]?key|access[_-]?key`)
)

// looksSecret reports why a string looks like a credential, or "".
func looksSecret(s string) string {
	switch {
	case awsKeyID.MatchString(s):
		return "an AWS access key id"
	case strings.Contains(strings.ToLower(s), "password"):
		return `the word "password"`
	case strings.Contains(s, "-----BEGIN"):
		return "a PEM block"
	}
	for _, m := range awsSecretLike.FindAllStringSubmatch(s, -1) {
		tok := m[2]
		if strings.ContainsAny(tok, "0123456789") && strings.ToLower(tok) != tok && strings.ToUpper(tok) != tok {
			return "a 40-character secret access key"
		}
	}
	return ""
}

func walkStrings(v any, where string, f func(where, s string)) {
	switch x := v.(type) {
	case string:
		f(where, x)
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", where, i), f)
		}
	case map[string]any:
		for k, e := range x {
			f(where+" key", k)
			walkStrings(e, where+"."+k, f)
		}
	}
}

// TestNoSecrets checks no JSON file holds a credential, and that the task
// definition passes nothing secret-named in plain environment variables
// (those belong under "secrets" with valueFrom Secrets Manager or SSM).
func TestNoSecrets(t *testing.T) {
	for _, n := range jsonFiles(t) {
		var v any
		readJSON(t, n, &v)
		walkStrings(v, n, func(where, s string) {
			if why := looksSecret(s); why != "" {
				t.Errorf("%s: %q looks like %s", where, s, why)
			}
		})
	}
	td := loadTaskDef(t)
	for _, e := range td.ContainerDefinitions[0].Environment {
		if secretName.MatchString(e.Name) {
			t.Errorf("environment %s is secret by name: pass it under secrets (valueFrom), not environment", e.Name)
		}
		if why := looksSecret(e.Value); why != "" {
			t.Errorf("environment %s looks like %s", e.Name, why)
		}
	}
	for _, s := range td.ContainerDefinitions[0].Secrets {
		if !strings.HasPrefix(s.ValueFrom, "arn:aws:secretsmanager:") && !strings.HasPrefix(s.ValueFrom, "arn:aws:ssm:") {
			t.Errorf("secret %s: valueFrom %q is not a Secrets Manager or SSM ARN", s.Name, s.ValueFrom)
		}
	}
}

// TestSecretDetector keeps the detector honest.
func TestSecretDetector(t *testing.T) {
	for _, s := range []string{
		"AKIA" + "IOSFODNN7EXAMPLE",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
		"db Password=hunter2",
	} {
		if looksSecret(s) == "" {
			t.Errorf("looksSecret(%q) = no", s)
		}
	}
	for _, s := range []string{
		"arn:aws:iam::123456789012:role/cdcmerge-task",
		"s3://example-dms-output/raw",
		"shop.orders=order_id;shop.order_items=order_id,line_no",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/cdcmerge:1.0.0",
	} {
		if why := looksSecret(s); why != "" {
			t.Errorf("looksSecret(%q) = %s", s, why)
		}
	}
}

// --------------------------------------------------------------------- IAM

type statement struct {
	Sid       string
	Effect    string
	Actions   []string
	Resources []string
	Condition map[string]any
}

// loadPolicy checks the shape of an identity policy (or, with trust, a
// role trust policy) and returns its statements.
func loadPolicy(t *testing.T, name string, trust bool) []statement {
	t.Helper()
	var raw map[string]any
	readJSON(t, name, &raw)
	onlyKeys(t, name, raw, "Version", "Id", "Statement")
	if raw["Version"] != "2012-10-17" {
		t.Errorf("%s: Version = %#v, want 2012-10-17", name, raw["Version"])
	}
	list, ok := raw["Statement"].([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("%s: Statement must be a non-empty array", name)
	}
	var out []statement
	sids := map[string]bool{}
	for i, s := range list {
		where := fmt.Sprintf("%s Statement[%d]", name, i)
		m := obj(t, where, s)
		st := statement{Effect: str(t, where+".Effect", m["Effect"])}
		if trust {
			onlyKeys(t, where, m, "Sid", "Effect", "Principal", "Action", "Condition")
			p := obj(t, where+".Principal", m["Principal"])
			svc := strs(t, where+".Principal.Service", p["Service"])
			for _, s := range svc {
				if !strings.HasSuffix(s, ".amazonaws.com") {
					t.Errorf("%s: Principal.Service %q", where, s)
				}
			}
		} else {
			onlyKeys(t, where, m, "Sid", "Effect", "Action", "Resource", "Condition")
			st.Resources = strs(t, where+".Resource", m["Resource"])
		}
		if v, ok := m["Sid"]; ok {
			st.Sid = str(t, where+".Sid", v)
			if sids[st.Sid] {
				t.Errorf("%s: Sid %q repeated", where, st.Sid)
			}
			sids[st.Sid] = true
		}
		if st.Effect != "Allow" && st.Effect != "Deny" {
			t.Errorf("%s: Effect = %q", where, st.Effect)
		}
		st.Actions = strs(t, where+".Action", m["Action"])
		for _, a := range st.Actions {
			svc, act, ok := strings.Cut(a, ":")
			if !ok || svc == "" || act == "" {
				t.Errorf("%s: Action %q is not service:Action", where, a)
			}
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard Action %q: name the actions", where, a)
			}
		}
		for _, r := range st.Resources {
			if r == "*" {
				t.Errorf("%s: Resource \"*\": scope it to the buckets, prefixes and Glue ARNs", where)
			} else if !strings.HasPrefix(r, "arn:aws:") {
				t.Errorf("%s: Resource %q is not an ARN", where, r)
			}
		}
		if c, ok := m["Condition"]; ok {
			st.Condition = obj(t, where+".Condition", c)
		}
		out = append(out, st)
	}
	return out
}

// iamMatch matches an IAM pattern (with * and ?) against a value.
func iamMatch(pattern, value string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(value)
}

// allows reports whether an Allow statement grants action on resource
// (conditions are not evaluated; Deny statements win).
func allows(sts []statement, action, resource string) bool {
	ok := false
	for _, s := range sts {
		hitA := slices.ContainsFunc(s.Actions, func(a string) bool { return strings.EqualFold(a, action) || iamMatch(a, action) })
		hitR := slices.ContainsFunc(s.Resources, func(r string) bool { return iamMatch(r, resource) })
		if hitA && hitR {
			if s.Effect == "Deny" {
				return false
			}
			ok = true
		}
	}
	return ok
}

var writeAction = regexp.MustCompile(`^(s3|glue):(Put|Delete|Create|Update|Abort|Restore|Batch)`)

func TestTaskRolePolicy(t *testing.T) {
	sts := loadPolicy(t, "iam-policy.json", false)
	env := loadTaskDef(t).env()
	srcBucket, srcPrefix := s3URL(env["CDCMERGE_SOURCE"])
	whBucket, whPrefix := s3URL(env["CDCMERGE_WAREHOUSE"])
	if srcBucket == "" || whBucket == "" {
		t.Fatal("the task definition's CDCMERGE_SOURCE and CDCMERGE_WAREHOUSE must be s3:// URLs")
	}
	obj := func(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

	// Write actions only on object or table ARNs under a prefix, never on a
	// whole bucket or every table.
	for _, s := range sts {
		for _, a := range s.Actions {
			if !writeAction.MatchString(a) {
				continue
			}
			for _, r := range s.Resources {
				if strings.HasPrefix(r, "arn:aws:s3:::") {
					_, key, _ := strings.Cut(strings.TrimPrefix(r, "arn:aws:s3:::"), "/")
					if key == "" || strings.HasPrefix(key, "*") {
						t.Errorf("%s on %s: scope it to a prefix of the bucket", a, r)
					}
				}
				if strings.Contains(r, ":database/*") || strings.Contains(r, ":table/*") {
					t.Errorf("%s on %s: name the databases", a, r)
				}
			}
		}
	}

	// Source: list and read under the prefix; nothing else.
	srcKey := srcPrefix + "/shop/orders/LOAD00000001.parquet"
	if !allows(sts, "s3:GetObject", obj(srcBucket, srcKey)) {
		t.Errorf("no s3:GetObject on the source prefix s3://%s/%s/", srcBucket, srcPrefix)
	}
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject"} {
		if allows(sts, a, obj(srcBucket, srcKey)) {
			t.Errorf("%s on the source: the DMS output is read only", a)
		}
	}
	if allows(sts, "s3:GetObject", obj(srcBucket, "other/x.parquet")) && srcBucket != whBucket {
		t.Errorf("s3:GetObject reaches outside the source prefix")
	}
	checkListBucket(t, sts, srcBucket, srcPrefix)

	// Warehouse: read, write, delete under the prefix.
	whKey := whPrefix + "/shop.db/orders/metadata/00001-x.metadata.json"
	for _, a := range []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} {
		if !allows(sts, a, obj(whBucket, whKey)) {
			t.Errorf("no %s on the warehouse prefix s3://%s/%s/", a, whBucket, whPrefix)
		}
		if allows(sts, a, obj(whBucket, "elsewhere/x")) {
			t.Errorf("%s reaches outside the warehouse prefix", a)
		}
	}
	checkListBucket(t, sts, whBucket, whPrefix)

	// Glue: the six catalog calls iceberg-go's Glue catalog makes, on the
	// catalog, the databases (DMS schemas) and their tables; no deletes.
	region := env["AWS_REGION"]
	account := roleARN.FindStringSubmatch(loadTaskDef(t).TaskRoleArn)
	if region == "" || account == nil {
		t.Fatal("need AWS_REGION in the environment and a taskRoleArn to build the Glue ARNs")
	}
	tables, _ := keyTables(env["CDCMERGE_KEY"])
	glueArn := func(r string) string { return "arn:aws:glue:" + region + ":" + account[1] + ":" + r }
	for _, tbl := range tables {
		ns, name, _ := strings.Cut(tbl, ".")
		for _, a := range []string{"glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable"} {
			for _, r := range []string{glueArn("catalog"), glueArn("database/" + ns)} {
				if !allows(sts, a, r) {
					t.Errorf("no %s on %s", a, r)
				}
			}
			if a != "glue:GetDatabase" && a != "glue:CreateDatabase" && !allows(sts, a, glueArn("table/"+ns+"/"+name)) {
				t.Errorf("no %s on %s", a, glueArn("table/"+ns+"/"+name))
			}
		}
		for _, a := range []string{"glue:DeleteTable", "glue:DeleteDatabase"} {
			if allows(sts, a, glueArn("table/"+ns+"/"+name)) || allows(sts, a, glueArn("database/"+ns)) {
				t.Errorf("%s is allowed: cdcmerge never deletes catalog objects", a)
			}
		}
	}
	if allows(sts, "glue:UpdateTable", glueArn("table/some_other_db/t")) {
		t.Error("glue:UpdateTable reaches databases the task does not write")
	}
}

// checkListBucket wants s3:ListBucket on the bucket limited by an s3:prefix
// condition to the prefix.
func checkListBucket(t *testing.T, sts []statement, bucket, prefix string) {
	t.Helper()
	for _, s := range sts {
		if !slices.Contains(s.Actions, "s3:ListBucket") || !slices.Contains(s.Resources, "arn:aws:s3:::"+bucket) {
			continue
		}
		like, _ := s.Condition["StringLike"].(map[string]any)
		if like == nil {
			like, _ = s.Condition["StringEquals"].(map[string]any)
		}
		if like == nil || like["s3:prefix"] == nil {
			t.Errorf("s3:ListBucket on %s without an s3:prefix condition lists the whole bucket", bucket)
			return
		}
		pats := strs(t, "s3:prefix", like["s3:prefix"])
		if !slices.ContainsFunc(pats, func(p string) bool { return iamMatch(p, prefix+"/") }) ||
			!slices.ContainsFunc(pats, func(p string) bool { return iamMatch(p, prefix+"/shop/orders/") }) {
			t.Errorf("s3:ListBucket on %s: s3:prefix %v does not cover %s/ and below", bucket, pats, prefix)
		}
		if slices.ContainsFunc(pats, func(p string) bool { return iamMatch(p, "unrelated/") }) {
			t.Errorf("s3:ListBucket on %s: s3:prefix %v lists outside %s/", bucket, pats, prefix)
		}
		return
	}
	t.Errorf("no s3:ListBucket on arn:aws:s3:::%s", bucket)
}

// TestSchedulerPolicy checks the scheduler role may run exactly this task
// definition on this cluster and pass exactly its two roles.
func TestSchedulerPolicy(t *testing.T) {
	sts := loadPolicy(t, "scheduler-policy.json", false)
	td := loadTaskDef(t)
	sch := loadSchedule(t)
	ecs := sch.Target.EcsParameters
	if !allows(sts, "ecs:RunTask", ecs.TaskDefinitionArn) {
		t.Errorf("no ecs:RunTask on %s", ecs.TaskDefinitionArn)
	}
	if allows(sts, "ecs:RunTask", strings.Replace(ecs.TaskDefinitionArn, "/"+td.Family, "/other", 1)) {
		t.Error("ecs:RunTask reaches other task definitions")
	}
	for _, r := range []string{td.TaskRoleArn, td.ExecutionRoleArn} {
		if !allows(sts, "iam:PassRole", r) {
			t.Errorf("no iam:PassRole on %s", r)
		}
	}
	if allows(sts, "iam:PassRole", "arn:aws:iam::123456789012:role/admin") {
		t.Error("iam:PassRole reaches other roles")
	}
	for _, s := range sts {
		if slices.Contains(s.Actions, "ecs:RunTask") {
			eq, _ := s.Condition["ArnEquals"].(map[string]any)
			if eq == nil || eq["ecs:cluster"] != sch.Target.Arn {
				t.Errorf("ecs:RunTask should be limited to the schedule's cluster %s with an ecs:cluster condition", sch.Target.Arn)
			}
		}
	}
}

func TestTrustPolicies(t *testing.T) {
	for name, principal := range map[string]string{
		"trust-ecs-tasks.json": "ecs-tasks.amazonaws.com",
		"trust-scheduler.json": "scheduler.amazonaws.com",
	} {
		sts := loadPolicy(t, name, true)
		var raw struct {
			Statement []struct {
				Principal struct{ Service any }
				Condition map[string]any
			}
		}
		readJSON(t, name, &raw)
		for i, s := range sts {
			if !slices.Equal(s.Actions, []string{"sts:AssumeRole"}) {
				t.Errorf("%s: Action = %v, want sts:AssumeRole", name, s.Actions)
			}
			if raw.Statement[i].Principal.Service != principal {
				t.Errorf("%s: Principal.Service = %v, want %s", name, raw.Statement[i].Principal.Service, principal)
			}
			if raw.Statement[i].Condition == nil {
				t.Errorf("%s: add an aws:SourceAccount condition (confused deputy)", name)
			}
		}
	}
}

// ------------------------------------------------------------------ schedule

type schedule struct {
	Name               string
	ScheduleExpression string
	FlexibleTimeWindow struct{ Mode string }
	State              string
	Target             struct {
		Arn           string
		RoleArn       string
		EcsParameters struct {
			TaskDefinitionArn    string
			TaskCount            *int
			LaunchType           string
			NetworkConfiguration struct {
				AwsvpcConfiguration struct {
					Subnets        []string
					SecurityGroups []string
					AssignPublicIp string
				} `json:"awsvpcConfiguration"`
			}
		}
		RetryPolicy *struct {
			MaximumRetryAttempts     *int
			MaximumEventAgeInSeconds *int
		}
	}
}

func loadSchedule(t *testing.T) schedule {
	t.Helper()
	var s schedule
	readJSON(t, "schedule.json", &s)
	return s
}

func TestSchedule(t *testing.T) {
	// Key names of the CreateSchedule input (JSON is case-sensitive for
	// `aws scheduler create-schedule --cli-input-json`).
	var raw map[string]any
	readJSON(t, "schedule.json", &raw)
	onlyKeys(t, "schedule.json", raw, "Name", "GroupName", "Description", "ScheduleExpression",
		"ScheduleExpressionTimezone", "StartDate", "EndDate", "FlexibleTimeWindow", "State",
		"KmsKeyArn", "ActionAfterCompletion", "Target", "ClientToken")
	tgt := obj(t, "Target", raw["Target"])
	onlyKeys(t, "Target", tgt, "Arn", "RoleArn", "EcsParameters", "RetryPolicy", "DeadLetterConfig", "Input")
	ep := obj(t, "Target.EcsParameters", tgt["EcsParameters"])
	onlyKeys(t, "Target.EcsParameters", ep, "TaskDefinitionArn", "TaskCount", "LaunchType",
		"PlatformVersion", "NetworkConfiguration", "CapacityProviderStrategy", "EnableECSManagedTags",
		"EnableExecuteCommand", "Group", "PlacementConstraints", "PlacementStrategy", "PropagateTags",
		"ReferenceId", "Tags")
	nc := obj(t, "NetworkConfiguration", ep["NetworkConfiguration"])
	onlyKeys(t, "NetworkConfiguration", nc, "awsvpcConfiguration")
	onlyKeys(t, "awsvpcConfiguration", obj(t, "awsvpcConfiguration", nc["awsvpcConfiguration"]),
		"Subnets", "SecurityGroups", "AssignPublicIp")

	s := loadSchedule(t)
	td := loadTaskDef(t)
	if s.Name == "" {
		t.Error("Name is missing")
	}
	if s.ScheduleExpression != "rate(15 minutes)" {
		t.Errorf("ScheduleExpression = %q, want rate(15 minutes)", s.ScheduleExpression)
	}
	if s.FlexibleTimeWindow.Mode != "OFF" {
		t.Errorf("FlexibleTimeWindow.Mode = %q, want OFF", s.FlexibleTimeWindow.Mode)
	}
	if s.State != "" && s.State != "ENABLED" && s.State != "DISABLED" {
		t.Errorf("State = %q", s.State)
	}
	m := clusterARN.FindStringSubmatch(s.Target.Arn)
	if m == nil {
		t.Fatalf("Target.Arn = %q is not an ECS cluster ARN", s.Target.Arn)
	}
	if !roleARN.MatchString(s.Target.RoleArn) {
		t.Errorf("Target.RoleArn = %q is not an IAM role ARN", s.Target.RoleArn)
	}
	if s.Target.RoleArn == td.TaskRoleArn || s.Target.RoleArn == td.ExecutionRoleArn {
		t.Error("Target.RoleArn should be the scheduler's own role, not the task's")
	}
	ecs := s.Target.EcsParameters
	d := taskDefARN.FindStringSubmatch(ecs.TaskDefinitionArn)
	if d == nil {
		t.Fatalf("EcsParameters.TaskDefinitionArn = %q is not a task definition ARN", ecs.TaskDefinitionArn)
	}
	if d[3] != td.Family {
		t.Errorf("TaskDefinitionArn family %q, task-definition.json family %q", d[3], td.Family)
	}
	if d[1] != m[1] || d[2] != m[2] {
		t.Errorf("task definition %s and cluster %s are in different regions or accounts", ecs.TaskDefinitionArn, s.Target.Arn)
	}
	if ecs.TaskCount != nil && *ecs.TaskCount != 1 {
		t.Errorf("TaskCount = %d, want 1", *ecs.TaskCount)
	}
	if ecs.LaunchType != "FARGATE" {
		t.Errorf("LaunchType = %q, want FARGATE", ecs.LaunchType)
	}
	vpc := ecs.NetworkConfiguration.AwsvpcConfiguration
	if len(vpc.Subnets) == 0 {
		t.Error("awsvpcConfiguration.Subnets is empty")
	}
	for _, sn := range vpc.Subnets {
		if !regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`).MatchString(sn) {
			t.Errorf("subnet %q", sn)
		}
	}
	if len(vpc.SecurityGroups) == 0 {
		t.Error("awsvpcConfiguration.SecurityGroups is empty")
	}
	for _, sg := range vpc.SecurityGroups {
		if !regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`).MatchString(sg) {
			t.Errorf("security group %q", sg)
		}
	}
	if vpc.AssignPublicIp != "ENABLED" && vpc.AssignPublicIp != "DISABLED" {
		t.Errorf("AssignPublicIp = %q", vpc.AssignPublicIp)
	}
	rp := s.Target.RetryPolicy
	if rp == nil || rp.MaximumRetryAttempts == nil || rp.MaximumEventAgeInSeconds == nil {
		t.Fatal("Target.RetryPolicy needs MaximumRetryAttempts and MaximumEventAgeInSeconds")
	}
	if n := *rp.MaximumRetryAttempts; n < 0 || n > 185 {
		t.Errorf("MaximumRetryAttempts = %d, want 0..185", n)
	}
	// A retried launch older than the interval would overlap the next run.
	if n := *rp.MaximumEventAgeInSeconds; n < 60 || n > 15*60 {
		t.Errorf("MaximumEventAgeInSeconds = %d, want 60..900 (at most the 15-minute interval)", n)
	}
}

// TestOneAccountOneRegion checks every ARN and the image agree on account
// and region, so the placeholders are replaced consistently.
func TestOneAccountOneRegion(t *testing.T) {
	arn := regexp.MustCompile(`arn:aws:([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:`)
	accounts, regions := map[string][]string{}, map[string][]string{}
	for _, n := range jsonFiles(t) {
		var v any
		readJSON(t, n, &v)
		walkStrings(v, n, func(where, s string) {
			for _, m := range arn.FindAllStringSubmatch(s, -1) {
				if m[3] != "" {
					accounts[m[3]] = append(accounts[m[3]], where)
				}
				if m[2] != "" {
					regions[m[2]] = append(regions[m[2]], where)
				}
			}
			if m := ecrImage.FindStringSubmatch(s); m != nil {
				accounts[m[1]] = append(accounts[m[1]], where)
				regions[m[2]] = append(regions[m[2]], where)
			}
			if regexp.MustCompile(`^\d{12}$`).MatchString(s) {
				accounts[s] = append(accounts[s], where)
			}
		})
	}
	td := loadTaskDef(t)
	for _, r := range []string{td.env()["AWS_REGION"], td.ContainerDefinitions[0].LogConfiguration.Options["awslogs-region"]} {
		if r != "" {
			regions[r] = append(regions[r], "task-definition.json")
		}
	}
	if len(accounts) != 1 {
		t.Errorf("more than one account id: %v", accounts)
	}
	if len(regions) != 1 {
		t.Errorf("more than one region: %v", regions)
	}
}

// ------------------------------------------------------------ Dockerfile

type instruction struct {
	Cmd  string // upper case
	Args string
	Line int
}

type stage struct {
	From, Name string
	Insts      []instruction
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	sc := bufio.NewScanner(f)
	var cur strings.Builder
	start, n := 0, 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Errorf("Dockerfile line %d: %s before FROM", in.Line, in.Cmd)
			}
			return
		}
		stages[len(stages)-1].Insts = append(stages[len(stages)-1].Insts, in)
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a builder and a final stage", len(stages))
	}
	return stages
}

// buildCommand returns the one `go build` line of scripts/build-static.sh.
func buildCommand(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "scripts", "build-static.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "#") && strings.Contains(l, "go build") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("scripts/build-static.sh has %d go build lines, want 1: %q", len(lines), lines)
	}
	return lines[0]
}

func TestBuildScript(t *testing.T) {
	cmd := buildCommand(t)
	want := regexp.MustCompile(`^CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "?\$\{?out\}?"? \./cmd/cdcmerge$`)
	if !want.MatchString(cmd) {
		t.Errorf("scripts/build-static.sh builds with %q, want CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\" -o OUT ./cmd/cdcmerge", cmd)
	}
	fi, err := os.Stat(filepath.Join(root, "scripts", "build-static.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&0o111 == 0 {
		t.Error("scripts/build-static.sh is not executable (the Dockerfile runs it directly)")
	}
}

// TestDockerfile checks the Dockerfile builds through scripts/build-static.sh
// (so it ships exactly what CI builds and tests) and runs as non-root.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	build, final := stages[0], stages[len(stages)-1]

	// Builder: golang image of go.mod's Go version.
	goVer := goModVersion(t)
	m := regexp.MustCompile(`^golang:(\d+\.\d+(?:\.\d+)?)-bookworm$`).FindStringSubmatch(build.From)
	if m == nil {
		t.Fatalf("builder stage FROM %s, want golang:<go.mod version>-bookworm", build.From)
	}
	if m[1] != goVer && m[1] != majorMinor(goVer) {
		t.Errorf("builder image Go %s, go.mod says go %s", m[1], goVer)
	}
	if build.Name == "" {
		t.Fatal("builder stage has no name (FROM ... AS build)")
	}

	// The builder's only build is scripts/build-static.sh OUT.
	var out string
	for _, st := range stages[:len(stages)-1] {
		for _, in := range st.Insts {
			if in.Cmd != "RUN" {
				continue
			}
			if strings.Contains(in.Args, "go build") || strings.Contains(in.Args, "go install") {
				t.Errorf("Dockerfile line %d builds Go itself (%s): use scripts/build-static.sh, the command CI runs", in.Line, in.Args)
			}
			if f := strings.Fields(in.Args); len(f) == 2 && strings.TrimPrefix(f[0], "./") == "scripts/build-static.sh" {
				if out != "" {
					t.Errorf("Dockerfile runs scripts/build-static.sh twice")
				}
				out = f[1]
			}
		}
	}
	if out == "" {
		t.Fatal("the builder stage does not RUN scripts/build-static.sh OUT")
	}

	// Final stage: small base, the binary at /cdcmerge, non-root.
	switch final.From {
	case "gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12":
	case "scratch":
		if !slices.ContainsFunc(final.Insts, func(in instruction) bool {
			return in.Cmd == "COPY" && strings.Contains(in.Args, "ca-certificates")
		}) {
			t.Error("scratch final stage without CA certificates: HTTPS to S3 and Glue would fail")
		}
	default:
		t.Errorf("final stage FROM %s, want distroless static or scratch", final.From)
	}
	var copied, user, entry, cmd string
	for _, in := range final.Insts {
		switch in.Cmd {
		case "COPY", "ADD":
			f := strings.Fields(in.Args)
			if len(f) == 3 && f[0] == "--from="+build.Name && f[1] == out {
				copied = f[2]
			}
			if in.Cmd == "ADD" {
				t.Errorf("Dockerfile line %d: use COPY, not ADD", in.Line)
			}
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entry = in.Args
		case "CMD":
			cmd = in.Args
		}
	}
	if copied != "/cdcmerge" {
		t.Errorf("final stage does not COPY --from=%s %s /cdcmerge", build.Name, out)
	}
	if user == "" || !nonRootUser(user) {
		t.Errorf("final stage USER = %q, want a non-root user such as 65532", user)
	}
	if entry != `["/cdcmerge"]` {
		t.Errorf(`ENTRYPOINT %s, want ["/cdcmerge"]`, entry)
	}
	if cmd != `["run"]` {
		t.Errorf(`CMD %s, want ["run"]`, cmd)
	}

	// No credentials baked in.
	for _, st := range stages {
		for _, in := range st.Insts {
			if (in.Cmd == "ENV" || in.Cmd == "ARG") && (secretName.MatchString(in.Args) || looksSecret(in.Args) != "" || strings.Contains(in.Args, "AWS_")) {
				t.Errorf("Dockerfile line %d: %s %s may bake a credential into the image", in.Line, in.Cmd, in.Args)
			}
			if (in.Cmd == "COPY" || in.Cmd == "ADD") && regexp.MustCompile(`\.aws|\.env\b|credentials|\.pem\b`).MatchString(in.Args) {
				t.Errorf("Dockerfile line %d copies a credential file: %s", in.Line, in.Args)
			}
		}
	}
}

func nonRootUser(u string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(u), ":")
	return name != "" && name != "root" && name != "0"
}

func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func majorMinor(v string) string {
	f := strings.SplitN(v, ".", 3)
	return f[0] + "." + f[1]
}

// ----------------------------------------------------- .dockerignore, build

type ignorePattern struct {
	re     *regexp.Regexp
	negate bool
}

// dockerIgnore reads .dockerignore with Docker's rules: paths relative to
// the context root, * and ? within a path segment, ** across segments, a
// pattern that matches a directory excludes what is under it, "!" re-includes,
// the last matching pattern wins.
func dockerIgnore(t *testing.T) []ignorePattern {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var out []ignorePattern
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.negate, line = true, rest
		}
		line = strings.TrimPrefix(path.Clean("/"+line), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("(/.*)?$")
		p.re = regexp.MustCompile(re.String())
		out = append(out, p)
	}
	return out
}

func ignored(pats []ignorePattern, rel string) bool {
	ex := false
	for _, p := range pats {
		if p.re.MatchString(rel) {
			ex = !p.negate
		}
	}
	return ex
}

func TestDockerIgnore(t *testing.T) {
	pats := dockerIgnore(t)
	for _, p := range []string{".git/HEAD", ".tools/bin/minio", "bench/results/tmp/x.parquet", "cdcmerge", "cdcmerge-demo/warehouse/catalog.db", "merge/merge_test.go"} {
		if !ignored(pats, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "scripts/build-static.sh", "cmd/cdcmerge/main.go", "merge/merge.go", "catalog/catalog.go"} {
		if ignored(pats, p) {
			t.Errorf(".dockerignore drops %s, which the build needs", p)
		}
	}
}

// contextCopy copies the repository as .dockerignore filters it (the
// Dockerfile's COPY . .) into a temporary directory.
func contextCopy(t *testing.T) string {
	t.Helper()
	pats := dockerIgnore(t)
	negations := slices.ContainsFunc(pats, func(p ignorePattern) bool { return p.negate })
	dst := t.TempDir()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignored(pats, rel) {
			if d.IsDir() && !negations {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			return os.WriteFile(target, b, fi.Mode().Perm())
		}
		return nil // symlinks and others: not needed by the build
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestStaticBuild builds the binary the way the Dockerfile does
// (scripts/build-static.sh over the .dockerignore-filtered context) and runs
// it in an empty environment, as in the distroless image: `--help` must exit
// 0, and the task definition's environment must be accepted as settings.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go is not on PATH")
	}
	ctx := contextCopy(t)
	bin := filepath.Join(t.TempDir(), "out", "cdcmerge")
	build := exec.Command(filepath.Join(ctx, "scripts", "build-static.sh"), bin)
	build.Dir = ctx
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-static.sh: %v\n%s", err, out)
	}
	ver, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"build\tCGO_ENABLED=0", "build\t-trimpath=true"} {
		if !strings.Contains(string(ver), want) {
			t.Errorf("go version -m: no %q in\n%s", want, ver)
		}
	}
	// -trimpath keeps -ldflags out of the build info: read the ELF instead.
	// Static: no program interpreter; -s: no symbol table; -w: no DWARF.
	if ef, err := elf.Open(bin); err == nil {
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary has a program interpreter: it is dynamically linked")
			}
		}
		for _, name := range []string{".symtab", ".debug_info", ".zdebug_info"} {
			if ef.Section(name) != nil {
				t.Errorf("the binary has a %s section: not built with -ldflags=\"-s -w\"", name)
			}
		}
		ef.Close()
	} else if runtime.GOOS == "linux" {
		t.Errorf("reading the binary as ELF: %v", err)
	}

	run := func(env []string, args ...string) (int, string) {
		c := exec.Command(bin, args...)
		c.Env = env
		c.Dir = t.TempDir()
		var buf bytes.Buffer
		c.Stdout, c.Stderr = &buf, &buf
		done := make(chan error, 1)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode(), buf.String()
			} else if err != nil {
				t.Fatal(err)
			}
			return 0, buf.String()
		case <-time.After(2 * time.Minute):
			_ = c.Process.Kill()
			t.Fatalf("cdcmerge %v did not finish in 2 minutes:\n%s", args, buf.String())
		}
		return -1, ""
	}

	if code, out := run([]string{}, "--help"); code != 0 || !strings.Contains(out, "cdcmerge run") {
		t.Errorf("cdcmerge --help: exit %d\n%s", code, out)
	}
	if code, out := run([]string{}, "run", "-h"); code != 0 {
		t.Errorf("cdcmerge run -h: exit %d\n%s", code, out)
	}

	// The task definition's environment, with every AWS endpoint pointed at
	// a closed local port and dummy credentials: the settings must parse
	// (exit 1, a failed run, not 2, bad usage), and the run must fail
	// without leaking the credentials into its output.
	env := []string{
		"AWS_ACCESS_KEY_ID=AKIDDUMMYDEPLOYTEST",
		"AWS_SECRET_ACCESS_KEY=deploy-test-dummy-secret-value",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none"),
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
	}
	for k, v := range loadTaskDef(t).env() {
		env = append(env, k+"="+v)
	}
	env = append(env, "CDCMERGE_GLUE_ENDPOINT=http://127.0.0.1:9", "CDCMERGE_S3_ENDPOINT=http://127.0.0.1:9")
	code, out := run(env, loadTaskDef(t).ContainerDefinitions[0].Command...)
	if code != 1 {
		t.Errorf("cdcmerge run with the task definition's environment: exit %d, want 1 (settings accepted, AWS unreachable)\n%s", code, out)
	}
	if strings.Contains(out, "deploy-test-dummy-secret-value") {
		t.Errorf("cdcmerge printed the secret access key:\n%s", out)
	}
}
