//go:build goexperiment.jsonv2

package codecbench

import jsonv2 "encoding/json/v2"

func init() {
	decoders = append(decoders, decoder{"encoding_json_v2", false, unmarshalOnePass(func(b []byte, v any) error { return jsonv2.Unmarshal(b, v) })})
	encoders = append(encoders, encoder{"encoding_json_v2", marshalAnswer(func(v any) ([]byte, error) { return jsonv2.Marshal(v) })})
}
