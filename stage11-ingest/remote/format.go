package remote

import (
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"google.golang.org/protobuf/encoding/protowire"
)

// V1Format is the ingest.Format of remote write 1.0 series: the key is
// TimeSeries.Key, the series' Label fields exactly as they were on the
// wire, so a series sent again is recognised without decoding its labels.
var V1Format ingest.Format = v1Format{}

type v1Format struct{}

func (v1Format) Labels(key, suffix []byte) (model.Labels, error) {
	var ls []model.Label
	for len(key) > 0 {
		num, typ, n := ConsumeTag(key)
		if n < 0 || num != fieldLabels || typ != protowire.BytesType {
			return model.Labels{}, errorf("damaged series key")
		}
		msg, m := protowire.ConsumeBytes(key[n:])
		if m < 0 {
			return model.Labels{}, errorf("damaged series key")
		}
		key = key[n+m:]
		l, err := decodeLabel(msg)
		if err != nil {
			return model.Labels{}, err
		}
		ls = append(ls, model.Label{Name: string(l.Name), Value: string(l.Value)})
	}
	return ingest.NewLabels(ls, suffix)
}

// Check applies the label limits to a decoded series.
func (ts *TimeSeries) Check(lim *ingest.Limits) error {
	if err := lim.CheckLabels(len(ts.Labels)); err != nil {
		return err
	}
	for _, l := range ts.Labels {
		if err := lim.CheckLabel(l.Name, l.Value); err != nil {
			return err
		}
	}
	return nil
}
