package template

import (
	"fmt"
	htmltemplate "html/template"
	"strings"
)

// funcs are the functions templates get besides Go's built-ins. Their
// argument order is Sprig's (as in Helm and Hugo), so the value can be
// piped in last: {{.title | default "Untitled"}}, {{.tags | join ", "}},
// {{.body | safe}}.
var funcs = htmltemplate.FuncMap{
	"default": defaultFunc,
	"join":    join,
	"safe":    safe,
}

// safe trusts html, a str, as HTML, as Django's and Jinja's |safe do: in
// element text it is written as it is. Elsewhere html/template still
// guards the context: in an attribute its tags are stripped and the rest
// escaped, in a script it is a JavaScript string, in a URL it is escaped.
func safe(html any) (htmltemplate.HTML, error) {
	s, ok := html.(string)
	if !ok {
		return "", fmt.Errorf("got %s, want a str of HTML", typeName(html))
	}
	return htmltemplate.HTML(s), nil
}

// defaultFunc returns value, or def when value is empty as {{if}} sees it:
// missing, None, false, 0, "", an empty list or dict.
func defaultFunc(def, value any) any {
	if truth, ok := htmltemplate.IsTrue(value); ok && truth {
		return value
	}
	return def
}

// join joins the items of list with sep; None items are left empty.
func join(sep string, list any) (string, error) {
	switch l := list.(type) {
	case nil:
		return "", nil
	case []string:
		return strings.Join(l, sep), nil
	case []any:
		var b strings.Builder
		for i, x := range l {
			if i > 0 {
				b.WriteString(sep)
			}
			if x != nil {
				fmt.Fprint(&b, x)
			}
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("got %s, want a list", typeName(list))
}

// typeName names the Starlark type that x came from, as [Data] converts.
func typeName(x any) string {
	switch x.(type) {
	case nil:
		return "None"
	case map[string]any:
		return "dict"
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	}
	return fmt.Sprintf("%T", x)
}
