package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestExampleFile loads the shipped tsdb.yml: it must parse, equal the
// defaults, and name every key of Config (so a key added to Config without
// a line in the example fails here).
func TestExampleFile(t *testing.T) {
	const path = "../tsdb.yml"
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.ExternalLabels = map[string]string{}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("%s differs from the defaults:\n got %+v\nwant %+v", path, c, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range yamlKeys(reflect.TypeOf(Config{}), "") {
		if !hasKey(doc, strings.Split(key, ".")) {
			t.Errorf("%s does not list %s", path, key)
		}
	}
}

// yamlKeys lists the dotted YAML keys of a struct type, nested sections
// included.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		keys = append(keys, prefix+name)
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, yamlKeys(f.Type, prefix+name+".")...)
		}
	}
	return keys
}

func hasKey(doc map[string]any, path []string) bool {
	v, ok := doc[path[0]]
	if !ok || len(path) == 1 {
		return ok
	}
	sub, ok := v.(map[string]any)
	return ok && hasKey(sub, path[1:])
}

func TestYAMLRoundTrip(t *testing.T) {
	c := Default()
	c.ExternalLabels = map[string]string{"cluster": "eu-1"}
	c.Web.EnableAdminAPI = true
	back, err := Parse([]byte(c.YAML()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v\n%s", back, c, c.YAML())
	}
}

func TestExternalLabelNames(t *testing.T) {
	for _, bad := range []string{"external_labels:\n  __name__: x\n", "external_labels:\n  1a: x\n", "external_labels:\n  a-b: x\n", "write:\n  max_metadata_per_metric: 0\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Parse([]byte("external_labels:\n  cluster: eu-1\n  _x9: y\n")); err != nil {
		t.Error(err)
	}
}
