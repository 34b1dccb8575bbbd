package web

import (
	"fmt"
	"html/template"
	"maps"
	"time"
)

// templateFuncs are the helpers every template may use.
func templateFuncs() template.FuncMap {
	funcs := template.FuncMap{
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02")
		},
		"money": func(cents int64, currency string) string {
			return fmt.Sprintf("%s %.2f", currency, float64(cents)/100)
		},
	}
	maps.Copy(funcs, inventoryFuncs())
	maps.Copy(funcs, appFuncs())
	return funcs
}
