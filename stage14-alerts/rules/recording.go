package rules

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// ErrDuplicateRecordingLabelSet: two series of the result have the same
// labels once renamed and the rule's labels applied.
var ErrDuplicateRecordingLabelSet = errors.New("vector contains metrics with the same labelset after applying rule labels")

// RecordingRule stores its expression's result under a new name: a
// precomputed answer that dashboards and later rules read cheaply.
type RecordingRule struct {
	name   string
	expr   parser.Expr
	query  string
	labels model.Labels
	ruleStatus
}

// NewRecordingRule returns a rule writing expr's result as metric name.
func NewRecordingRule(name string, expr parser.Expr, labels model.Labels) *RecordingRule {
	return &RecordingRule{name: name, expr: expr, query: expr.String(), labels: labels, ruleStatus: newRuleStatus()}
}

func (r *RecordingRule) Name() string         { return r.name }
func (r *RecordingRule) Labels() model.Labels { return r.labels }
func (r *RecordingRule) Query() parser.Expr   { return r.expr }

// Eval queries at ts-queryOffset and renames the result.
func (r *RecordingRule) Eval(ctx context.Context, queryOffset time.Duration, ts time.Time, query QueryFunc, _ *url.URL, limit int) (promql.Vector, error) {
	vec, err := query(ctx, r.query, ts.Add(-queryOffset))
	if err != nil {
		return nil, err
	}
	var b builder
	seen := make(map[uint64]model.Labels, len(vec))
	for i := range vec {
		b.reset(vec[i].Metric)
		b.set(model.MetricName, r.name)
		for l := range r.labels.All() {
			b.set(l.Name, l.Value)
		}
		vec[i].Metric = b.labels()
		h := vec[i].Metric.Hash()
		if prev, ok := seen[h]; ok && prev.Equal(vec[i].Metric) {
			return nil, ErrDuplicateRecordingLabelSet
		}
		seen[h] = vec[i].Metric
	}
	if limit > 0 && len(vec) > limit {
		return nil, fmt.Errorf("exceeded limit of %d with %d series", limit, len(vec))
	}
	return vec, nil
}
