// Package attr converts between Go values and the DynamoDB attribute values of the config
// table's items, for the stores of the agents and their sync: strings, numbers, times as Unix
// milliseconds, lists and maps of strings. A value of another type reads as the zero value.
package attr

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is a DynamoDB item.
type Item = map[string]types.AttributeValue

// S is a string attribute.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// N is a number attribute.
func N(n int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }

// Millis is t as a number of Unix milliseconds.
func Millis(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}

// StrList is a list of string attributes.
func StrList(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = S(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// StrMap is a map of string attributes.
func StrMap(m map[string]string) types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = S(v)
	}
	return &types.AttributeValueMemberM{Value: out}
}

// GetS reads a string attribute.
func GetS(it Item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// GetN reads an integer number attribute.
func GetN(it Item, name string) int {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return int(n)
	}
	return 0
}

// GetMap reads a map of strings (never nil).
func GetMap(it Item, name string) map[string]string {
	out := map[string]string{}
	if m, ok := it[name].(*types.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				out[k] = s.Value
			}
		}
	}
	return out
}

// GetList reads a list of strings.
func GetList(it Item, name string) []string {
	var out []string
	if l, ok := it[name].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				out = append(out, s.Value)
			}
		}
	}
	return out
}
