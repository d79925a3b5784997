// Package model is the data model every stage of the course shares: a series is
// identified by a label set, and holds samples (timestamp, value).
//
// A label set always carries the metric name as the label "__name__", so that a
// metric name is just one more label to index and match on, exactly as in
// Prometheus. Labels are kept sorted by name; that single rule is what makes
// {host=a,region=b} and {region=b,host=a} the same series.
package model

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
)

// MetricName is the label that holds a series' metric name.
const MetricName = "__name__"

// Errors returned when a label set cannot be built.
var (
	ErrEmptyLabelName     = errors.New("model: empty label name")
	ErrDuplicateLabelName = errors.New("model: duplicate label name")
	ErrOddArgs            = errors.New("model: odd number of strings for name/value pairs")
)

// Label is one name/value pair.
type Label struct {
	Name, Value string
}

// Labels is an immutable label set, sorted by name, names unique.
//
// The slice is unexported so that no caller can reorder or edit a label set
// after its hash has been taken; the zero value is the empty set.
type Labels struct {
	ls []Label
}

// New builds a label set from pairs in any order. Pairs with an empty value are
// dropped: in this data model (as in Prometheus) an empty value means "label
// absent", so {a="",b="1"} and {b="1"} must be the same series.
// The input slice is not retained.
func New(pairs ...Label) (Labels, error) {
	ls := make([]Label, 0, len(pairs))
	for _, p := range pairs {
		if p.Name == "" {
			return Labels{}, ErrEmptyLabelName
		}
		if p.Value != "" {
			ls = append(ls, p)
		}
	}
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(ls); i++ {
		if ls[i].Name == ls[i-1].Name {
			return Labels{}, fmt.Errorf("%w: %q", ErrDuplicateLabelName, ls[i].Name)
		}
	}
	return Labels{ls: ls}, nil
}

// FromStrings builds a label set from alternating names and values:
// FromStrings("__name__", "cpu", "host", "a").
func FromStrings(nameValues ...string) (Labels, error) {
	if len(nameValues)%2 != 0 {
		return Labels{}, ErrOddArgs
	}
	pairs := make([]Label, 0, len(nameValues)/2)
	for i := 0; i < len(nameValues); i += 2 {
		pairs = append(pairs, Label{nameValues[i], nameValues[i+1]})
	}
	return New(pairs...)
}

// MustFromStrings is FromStrings for label sets written in the source (tests,
// examples), where a mistake is a programming error; it panics on one.
func MustFromStrings(nameValues ...string) Labels {
	ls, err := FromStrings(nameValues...)
	if err != nil {
		panic(err)
	}
	return ls
}

// FromMetric builds the label set of a metric name plus tags, the shape of
// the guide's "cpu.usage host=server1 region=us-east".
func FromMetric(name string, tags map[string]string) (Labels, error) {
	pairs := make([]Label, 0, len(tags)+1)
	pairs = append(pairs, Label{MetricName, name})
	for k, v := range tags {
		if k == MetricName {
			return Labels{}, fmt.Errorf("%w: %q given both as metric name and as tag", ErrDuplicateLabelName, k)
		}
		pairs = append(pairs, Label{k, v})
	}
	return New(pairs...)
}

// Len is the number of labels.
func (l Labels) Len() int { return len(l.ls) }

// At returns the i-th label in name order.
func (l Labels) At(i int) Label { return l.ls[i] }

// All iterates the labels in name order.
func (l Labels) All() iter.Seq[Label] {
	return func(yield func(Label) bool) {
		for _, x := range l.ls {
			if !yield(x) {
				return
			}
		}
	}
}

// Get returns the value of the named label, or "" when it is absent.
func (l Labels) Get(name string) string {
	// Label sets are small (typically < 20); a linear scan beats binary search.
	for _, x := range l.ls {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}

// Has reports whether the named label is present.
func (l Labels) Has(name string) bool {
	for _, x := range l.ls {
		if x.Name == name {
			return true
		}
	}
	return false
}

// Name is the metric name (the __name__ label).
func (l Labels) Name() string { return l.Get(MetricName) }

// Equal reports whether two label sets are identical.
func (l Labels) Equal(o Labels) bool { return slices.Equal(l.ls, o.ls) }

// Compare orders label sets: label by label, by name then value; a prefix sorts
// first. This is the order series are returned in by every query of the course.
func (l Labels) Compare(o Labels) int {
	return slices.CompareFunc(l.ls, o.ls, func(a, b Label) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
}

// Contains reports whether every label of sub is also in l with the same
// value: the guide's "cpu.usage{host=server1} matches every series that has
// host=server1". Both sets are sorted, so one merge-like pass suffices.
func (l Labels) Contains(sub Labels) bool {
	i := 0
	for _, want := range sub.ls {
		for i < len(l.ls) && l.ls[i].Name < want.Name {
			i++
		}
		if i == len(l.ls) || l.ls[i] != want {
			return false
		}
		i++
	}
	return true
}

// With returns a copy of l with the label set (value "" removes it).
func (l Labels) With(name, value string) (Labels, error) {
	pairs := make([]Label, 0, len(l.ls)+1)
	for _, x := range l.ls {
		if x.Name != name {
			pairs = append(pairs, x)
		}
	}
	pairs = append(pairs, Label{name, value})
	return New(pairs...)
}

// Without returns a copy of l without the named labels.
func (l Labels) Without(names ...string) Labels {
	ls := make([]Label, 0, len(l.ls))
	for _, x := range l.ls {
		if !slices.Contains(names, x.Name) {
			ls = append(ls, x)
		}
	}
	return Labels{ls: ls}
}

// Map returns the labels as a map (a copy).
func (l Labels) Map() map[string]string {
	m := make(map[string]string, len(l.ls))
	for _, x := range l.ls {
		m[x.Name] = x.Value
	}
	return m
}

// String is the canonical series name: the metric name followed by the other
// labels in name order with quoted values, cpu.usage{host="server1",region="us-east"}.
// It is the same for any order the tags were given in, and unambiguous: values
// are quoted, so a value containing ',' or '=' cannot fake another label.
func (l Labels) String() string {
	var b strings.Builder
	name := l.Name()
	b.WriteString(name)
	first := true
	for _, x := range l.ls {
		if x.Name == MetricName {
			continue
		}
		if first {
			b.WriteByte('{')
			first = false
		} else {
			b.WriteByte(',')
		}
		b.WriteString(x.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(x.Value))
	}
	if !first {
		b.WriteByte('}')
	} else if name == "" {
		b.WriteString("{}")
	}
	return b.String()
}
