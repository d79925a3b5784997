package tsm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// The series index. A TSM file is sorted by key, so "every key of cpu" is a
// range of each file's index, but "the keys of cpu with host=server1" is
// not: without an index a query would walk the whole measurement in every
// file and the cache (tens of milliseconds at 50,000 series). Like
// InfluxDB's inmem index, the engine keeps an inverted index in memory:
// stage05's, with a series (measurement + tags) as the label set
//
//	cpu,host=server1,region=eu   →   {__name__="cpu", host="server1", region="eu"}
//
// and, per series ID, the series key and its fields. WHERE tag conditions
// become postings operations (Select with matchers; AND/OR of the results).
//
// It is not persisted: Open rebuilds it from the TSM indexes (each key
// once, consecutive keys of one series parsed once) and the WAL replay,
// which is what InfluxDB's inmem index does too. It is maintained where the
// engine learns a new key (checkTypes, learnTypes), so a write of known
// keys never touches it. Deletes do not remove series (as in InfluxDB, a
// series outlives its values until it is dropped): a series without values
// simply reads empty.

// measurementLabel is the label the measurement is indexed under. A tag of
// that name would collide with it: such writes are ErrInvalidKey.
const measurementLabel = model.MetricName

// Field is one field of a series.
type Field struct {
	Name string
	Key  string // the storage key: series key + FieldSeparator + Name
	Type Type
}

// SeriesInfo describes one series of the series index.
type SeriesInfo struct {
	Key         string // the series key (measurement and tags, escaped)
	Measurement string
	Tags        [][2]string // sorted by name
	Fields      []Field     // sorted by name
}

// seriesIndex is the index and the per-series data. The engine guards
// series with typesMu (index.Index locks itself).
type seriesIndex struct {
	ix     *index.Index
	series []seriesEntry // by ID: stage05 allocates IDs 0, 1, 2, …

	lastKey string // the series key of the last add, and its ID:
	lastID  index.SeriesID
}

type seriesEntry struct {
	key    string
	fields []Field
}

func newSeriesIndex() *seriesIndex { return &seriesIndex{ix: index.New()} }

// add records a new storage key of type t (the caller has checked that the
// key is new).
func (s *seriesIndex) add(key string, t Type) error {
	sk, field, ok := SplitKey(key)
	if !ok {
		return fmt.Errorf("%w: %q has no field", ErrInvalidKey, key)
	}
	id := s.lastID
	if sk != s.lastKey || s.series == nil {
		ls, err := seriesLabels(sk)
		if err != nil {
			return err
		}
		if id, _, err = s.ix.Add(ls); err != nil {
			return fmt.Errorf("tsm: series index: %s: %w", sk, err)
		}
		if int(id) >= len(s.series) {
			s.series = append(s.series, make([]seriesEntry, int(id)+1-len(s.series))...)
		}
		if s.series[id].key == "" {
			s.series[id].key = strings.Clone(sk)
		}
		s.lastKey, s.lastID = s.series[id].key, id
	}
	e := &s.series[id]
	i, found := slices.BinarySearchFunc(e.fields, field, func(f Field, name string) int { return strings.Compare(f.Name, name) })
	if !found {
		k := strings.Clone(key)
		e.fields = slices.Insert(e.fields, i, Field{Name: k[len(k)-len(field):], Key: k, Type: t})
	}
	return nil
}

// seriesLabels is the label set of a series key.
func seriesLabels(sk string) (model.Labels, error) {
	m, tags := parseSeriesKey(sk)
	pairs := make([]model.Label, 0, len(tags)+1)
	pairs = append(pairs, model.Label{Name: measurementLabel, Value: m})
	for _, t := range tags {
		if t[0] == measurementLabel {
			return model.Labels{}, fmt.Errorf("%w: %s: tag key %s is reserved", ErrInvalidKey, sk, measurementLabel)
		}
		pairs = append(pairs, model.Label{Name: t[0], Value: t[1]})
	}
	ls, err := model.New(pairs...)
	if err != nil {
		return model.Labels{}, fmt.Errorf("%w: %s: %v", ErrInvalidKey, sk, err)
	}
	return ls, nil
}

// SelectSeries returns the IDs of the series of measurement m whose tags
// satisfy every matcher (stage05's semantics: a series without the tag is
// tested with the value "", so host!='a' keeps series without host). No
// matcher selects the whole measurement. The bitmap is the caller's.
func (e *Engine) SelectSeries(m string, ms ...*index.Matcher) *roaring.Bitmap {
	all := make([]*index.Matcher, 0, len(ms)+1)
	all = append(all, index.MustNewMatcher(index.MatchEqual, measurementLabel, m))
	all = append(all, ms...)
	return e.series.ix.Select(all...)
}

// Series describes series id, false if the index has no such series.
func (e *Engine) Series(id index.SeriesID) (SeriesInfo, bool) {
	e.typesMu.RLock()
	if int(id) >= len(e.series.series) || e.series.series[id].key == "" {
		e.typesMu.RUnlock()
		return SeriesInfo{}, false
	}
	se := e.series.series[id]
	// fields is replaced (slices.Insert) or appended to under the write
	// lock: copy it while the read lock is held.
	info := SeriesInfo{Key: se.key, Fields: slices.Clone(se.fields)}
	e.typesMu.RUnlock()
	info.Measurement, info.Tags = parseSeriesKey(info.Key)
	return info, true
}

// seriesCount is the number of series in the series index.
func (e *Engine) seriesCount() int { return e.series.ix.Len() }
