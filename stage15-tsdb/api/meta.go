package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// rangeParams reads the start and end of a series or label lookup
// (defaults: all time).
func rangeParams(r *http.Request) (mint, maxt int64, aerr *apiError) {
	start, aerr := timeParam(r, "start", minTime)
	if aerr != nil {
		return 0, 0, aerr
	}
	end, aerr := timeParam(r, "end", maxTime)
	if aerr != nil {
		return 0, 0, aerr
	}
	if end.Before(start) {
		return 0, 0, badParam("end", errors.New("end timestamp must not be before start time"))
	}
	return start.UnixMilli(), end.UnixMilli(), nil
}

// series serves /api/v1/series: the label sets of the series matching any
// match[] selector (at least one is required).
func (a *API) series(r *http.Request) (any, []string, *apiError) {
	limit, aerr := limitParam(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	sets, aerr := matchersParam(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	if len(sets) == 0 {
		return nil, nil, newError(ErrBadData, errors.New("no match[] parameter provided"))
	}
	mint, maxt, aerr := rangeParams(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	q, err := a.db.Querier(mint, maxt)
	if err != nil {
		return nil, nil, newError(ErrInternal, err)
	}
	defer q.Close()
	var all []model.Labels
	for _, ms := range sets {
		ss := q.Select(ms...)
		for ss.Next() {
			all = append(all, ss.At().Labels())
		}
		if err := ss.Err(); err != nil {
			return nil, nil, newError(ErrInternal, err)
		}
	}
	slices.SortFunc(all, model.Labels.Compare)
	all = slices.CompactFunc(all, model.Labels.Equal)
	all, warnings := truncate(all, limit)
	out := make([]map[string]string, len(all))
	for i, l := range all {
		out[i] = l.Map()
	}
	return out, warnings, nil
}

// labels serves /api/v1/labels: label names, over the series matching any
// match[] selector (all series without one).
func (a *API) labels(r *http.Request) (any, []string, *apiError) {
	return a.labelLookup(r, func(q tsdb.Querier, ms []*index.Matcher) ([]string, error) {
		return q.LabelNames(ms...)
	})
}

// labelValues serves /api/v1/label/<name>/values.
func (a *API) labelValues(r *http.Request) (any, []string, *apiError) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = unescapeLabelName(name)
	}
	if name == "" {
		return nil, nil, newError(ErrBadData, errors.New("invalid label name: \"\""))
	}
	return a.labelLookup(r, func(q tsdb.Querier, ms []*index.Matcher) ([]string, error) {
		return q.LabelValues(name, ms...)
	})
}

// labelLookup runs get over a querier of the request's range, once per
// match[] selector, and merges the sorted answers.
func (a *API) labelLookup(r *http.Request, get func(tsdb.Querier, []*index.Matcher) ([]string, error)) (any, []string, *apiError) {
	limit, aerr := limitParam(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	sets, aerr := matchersParam(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	mint, maxt, aerr := rangeParams(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	q, err := a.db.Querier(mint, maxt)
	if err != nil {
		return nil, nil, newError(ErrInternal, err)
	}
	defer q.Close()
	if len(sets) == 0 {
		sets = [][]*index.Matcher{nil}
	}
	out := []string{}
	for _, ms := range sets {
		vs, err := get(q, ms)
		if err != nil {
			return nil, nil, newError(ErrInternal, err)
		}
		out = append(out, vs...)
	}
	slices.Sort(out)
	out, warnings := truncate(slices.Compact(out), limit)
	return out, warnings, nil
}

// limitParam reads the limit of a series or label lookup: a non-negative
// integer, 0 (the default) for none.
func limitParam(r *http.Request) (int, *apiError) {
	s := r.FormValue("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badParam("limit", err)
	}
	if n < 0 {
		return 0, badParam("limit", errors.New("limit must be non-negative"))
	}
	return n, nil
}

// truncateWarning is Prometheus's warning when a limit cut the answer.
const truncateWarning = "results truncated due to limit"

// truncate keeps the first limit items (all with limit 0) and says so.
func truncate[T any](items []T, limit int) ([]T, []string) {
	if limit > 0 && len(items) > limit {
		return items[:limit], []string{truncateWarning}
	}
	return items, nil
}

// unescapeLabelName undoes Prometheus's U__ escaping of label names in
// paths: U__ then the name with _XX_ for each byte outside [A-Za-z0-9_] (as
// hex of its code point) and __ for an underscore.
func unescapeLabelName(s string) string {
	s = strings.TrimPrefix(s, "U__")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '_' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '_' {
			b.WriteByte('_')
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '_')
		if end < 0 {
			return ""
		}
		var r rune
		for _, c := range s[i+1 : i+1+end] {
			v := strings.IndexRune("0123456789abcdef", c|0x20)
			if v < 0 {
				return ""
			}
			r = r<<4 | rune(v)
		}
		b.WriteRune(r)
		i += end + 1
	}
	return b.String()
}

// metadataStore keeps the metric metadata that remote-write senders
// include (type, help, unit by metric family), for /api/v1/metadata. It is
// memory only: senders resend it every minute. It is bounded: at most
// maxFamilies families and perFamily distinct entries per family; what
// does not fit is dropped (and counted), the entries kept stay. Adding is
// a map lookup, so a request with 60,000 entries costs 60,000 lookups.
type metadataStore struct {
	maxFamilies, perFamily int

	mu      sync.Mutex
	m       map[string]*metadataFamily
	dropped int64
}

// metadataFamily is one family's entries, in the order first seen, and
// the set of them for the duplicate check.
type metadataFamily struct {
	entries []metadataEntry
	seen    map[metadataEntry]struct{}
}

type metadataEntry struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

func newMetadataStore(maxFamilies, perFamily int) *metadataStore {
	return &metadataStore{maxFamilies: maxFamilies, perFamily: perFamily, m: map[string]*metadataFamily{}}
}

func (s *metadataStore) add(m remote.Metadata) {
	if m.Family == "" {
		return
	}
	e := metadataEntry{Type: m.Type, Help: m.Help, Unit: m.Unit}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.m[m.Family]
	if f == nil {
		if len(s.m) >= s.maxFamilies {
			s.dropped++
			return
		}
		f = &metadataFamily{seen: map[metadataEntry]struct{}{}}
		s.m[strings.Clone(m.Family)] = f
	}
	if _, ok := f.seen[e]; ok {
		return
	}
	if len(f.entries) >= s.perFamily {
		s.dropped++
		return
	}
	e = metadataEntry{Type: strings.Clone(e.Type), Help: strings.Clone(e.Help), Unit: strings.Clone(e.Unit)}
	f.seen[e] = struct{}{}
	f.entries = append(f.entries, e)
}

// Dropped is how many metadata entries did not fit the bounds.
func (s *metadataStore) Dropped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// metadata serves /api/v1/metadata (parameters metric, limit).
func (a *API) metadata(r *http.Request) (any, []string, *apiError) {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		n, err := parseInt(s)
		if err != nil {
			return nil, nil, badParam("limit", err)
		}
		limit = n
	}
	metric := r.FormValue("metric")
	a.meta.mu.Lock()
	defer a.meta.mu.Unlock()
	out := map[string][]metadataEntry{}
	names := make([]string, 0, len(a.meta.m))
	for name := range a.meta.m {
		if metric == "" || name == metric {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if limit >= 0 && len(out) >= limit {
			break
		}
		out[name] = slices.Clone(a.meta.m[name].entries)
	}
	return out, nil, nil
}

// exemplars serves /api/v1/query_exemplars: exemplars are not stored, so
// the answer is always an empty list (after checking the parameters).
func (a *API) exemplars(r *http.Request) (any, []string, *apiError) {
	if q := r.FormValue("query"); q == "" {
		return nil, nil, badParam("query", errors.New("missing"))
	}
	if _, _, aerr := rangeParams(r); aerr != nil {
		return nil, nil, aerr
	}
	return []struct{}{}, nil, nil
}
