package signatures

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fieldChecker rejects mapping keys that name no field of the Go type they
// decode into: a misspelt "domians:" must fail lint, not vanish. yaml's own
// strict mode would need a second parse of every file, since it works on
// bytes and the line numbers need the node tree; this walks the tree once.
type fieldChecker struct {
	// fields caches, per struct type, its YAML field names and types.
	fields map[reflect.Type]map[string]reflect.Type
}

func (c *fieldChecker) structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := c.fields[t]; ok {
		return f
	}
	if c.fields == nil {
		c.fields = make(map[reflect.Type]map[string]reflect.Type)
	}
	f := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(sf.Name)
		}
		f[name] = sf.Type
	}
	c.fields[t] = f
	return f
}

// check walks node against type t and reports every unknown key.
func (c *fieldChecker) check(n *yaml.Node, t reflect.Type, report func(line int, msg string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type error, which decoding reports
		}
		fields := c.structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[key.Value]
			if !ok {
				report(key.Line, fmt.Sprintf("field %s not found in type %s", key.Value, t))
				continue
			}
			c.check(val, ft, report)
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				c.check(item, t.Elem(), report)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				c.check(n.Content[i], t.Elem(), report)
			}
		}
	}
}
