// The segment builder: conditions from the field catalogue in AND / OR / NOT groups, kept in the
// form's JSON field (which still works without this script), with a live count and a sample of
// members from the console's preview endpoint while editing.
(function () {
  "use strict";
  var root = document.getElementById("segment-builder");
  var ruleField = document.querySelector("[data-rule-json]");
  if (!root || !ruleField) return;
  var catalogue = JSON.parse(document.getElementById("segment-catalogue").textContent || "[]");
  var texts = JSON.parse(document.getElementById("segment-texts").textContent || "{}");
  var countNode = document.querySelector("[data-preview-count]");
  var errorNode = document.querySelector("[data-preview-error]");
  var sampleNode = document.querySelector("[data-preview-sample]");

  // --- the catalogue, read loosely: {field|name, label, type|value_type, ops, params, choices} ----
  function pair(item) {
    if (item !== null && typeof item === "object") {
      var value = item.value !== undefined ? item.value : item.op !== undefined ? item.op : item.name;
      return { value: value, label: String(item.label !== undefined ? item.label : value) };
    }
    return { value: item, label: String(item) };
  }
  var fields = {};
  catalogue.forEach(function (entry) {
    var name = entry.field || entry.name;
    fields[name] = {
      name: name,
      label: entry.label || name,
      group: entry.group_label || "",
      listValue: entry.list_value !== false,
      type: entry.type || entry.value_type || "text",
      ops: (entry.ops || []).map(pair),
      choices: (entry.choices || []).map(pair),
      params: (entry.params || entry.parameters || []).filter(function (param) {
        // property filters of tracked events are edited as JSON (the advanced field)
        return typeof param === "string" || param.type !== "property_filters";
      }).map(function (param) {
        if (typeof param === "string") return { name: param, label: param, type: "text", choices: [] };
        return {
          name: param.name || param.field,
          label: param.label || param.name,
          type: param.type || param.value_type || "text",
          choices: (param.choices || []).map(pair),
        };
      }),
    };
  });
  var firstField = catalogue.length ? catalogue[0].field || catalogue[0].name : "";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function isMulti(op) { return op === "in" || op === "not_in"; }
  function isNumber(type) { return /int|number|float|money|decimal|days|count|points|score|probability|month/.test(type); }
  function isBool(type) { return /bool/.test(type); }

  function coerce(raw, type) {
    if (raw === "" || raw === null || raw === undefined) return null;
    if (isBool(type)) return raw === "true";
    if (isNumber(type)) {
      var number = Number(raw);
      return isNaN(number) ? raw : number;
    }
    return raw;
  }

  // An input for one value of `type` with optional choices; `multiple` for in / not_in.
  function valueInput(type, choices, current, multiple, onChange) {
    var input;
    if (choices.length) {
      input = el("select", multiple ? { multiple: "multiple", size: Math.min(6, choices.length) } : {});
      if (!multiple) input.appendChild(el("option", { value: "", text: "—" }));
      var wanted = (Array.isArray(current) ? current : [current]).map(String);
      choices.forEach(function (choice) {
        var option = el("option", { value: String(choice.value), text: choice.label });
        if (wanted.indexOf(String(choice.value)) !== -1) option.selected = true;
        input.appendChild(option);
      });
      var typed = {};
      choices.forEach(function (choice) { typed[String(choice.value)] = choice.value; });
      input.addEventListener("change", function () {
        if (multiple) {
          onChange(Array.prototype.filter.call(input.options, function (o) { return o.selected; })
            .map(function (o) { return typed[o.value]; }));
        } else {
          onChange(input.value === "" ? null : typed[input.value]);
        }
      });
    } else if (isBool(type)) {
      input = el("select", {}, [
        el("option", { value: "true", text: texts.yes }), el("option", { value: "false", text: texts.no }),
      ]);
      input.value = current === false ? "false" : "true";
      input.addEventListener("change", function () { onChange(input.value === "true"); });
    } else {
      input = el("input", { type: isNumber(type) ? "number" : /date/.test(type) ? "date" : "text", step: "any" });
      if (current !== null && current !== undefined) input.value = Array.isArray(current) ? current.join(",") : current;
      input.addEventListener("input", function () {
        if (multiple) {
          onChange(input.value.split(",").map(function (v) { return coerce(v.trim(), type); })
            .filter(function (v) { return v !== null; }));
        } else {
          onChange(coerce(input.value, type));
        }
      });
    }
    input.className = "builder-value";
    return input;
  }

  // --- the tree as editable nodes -----------------------------------------------------------------
  function newCondition() {
    var field = fields[firstField];
    return {
      field: firstField,
      op: field && field.ops.length ? field.ops[0].value : "eq",
      value: field && isBool(field.type) ? true : null,
    };
  }

  function conditionRow(condition, onRemove) {
    var row = el("div", { class: "builder-condition", "data-testid": "builder-condition" });
    function draw() {
      row.innerHTML = "";
      var field = fields[condition.field] || { name: condition.field, label: condition.field, type: "text", ops: [], choices: [], params: [] };
      var fieldSelect = el("select", { class: "builder-field", "aria-label": "field" });
      var groups = {};
      Object.keys(fields).forEach(function (name) {
        var groupName = fields[name].group;
        var parent = fieldSelect;
        if (groupName) {
          if (!groups[groupName]) {
            groups[groupName] = el("optgroup", { label: groupName });
            fieldSelect.appendChild(groups[groupName]);
          }
          parent = groups[groupName];
        }
        var option = el("option", { value: name, text: fields[name].label });
        if (name === condition.field) option.selected = true;
        parent.appendChild(option);
      });
      fieldSelect.addEventListener("change", function () {
        var chosen = fields[fieldSelect.value];
        Object.keys(condition).forEach(function (key) { delete condition[key]; });
        condition.field = fieldSelect.value;
        condition.op = chosen.ops.length ? chosen.ops[0].value : "eq";
        condition.value = isBool(chosen.type) ? true : null; // the select shows 是 from the start
        draw();
        changed();
      });
      var opSelect = el("select", { class: "builder-op", "aria-label": "op" });
      field.ops.forEach(function (op) {
        var option = el("option", { value: op.value, text: op.label });
        if (op.value === condition.op) option.selected = true;
        opSelect.appendChild(option);
      });
      opSelect.addEventListener("change", function () {
        var shape = function (op) { return isMulti(op) ? "list" : op === "between" ? "range" : "one"; };
        var before = shape(condition.op);
        condition.op = opSelect.value;
        if (before !== shape(condition.op)) { condition.value = null; draw(); }
        changed();
      });
      row.appendChild(fieldSelect);
      row.appendChild(opSelect);
      if (condition.op === "between") {
        var range = Array.isArray(condition.value) ? condition.value.slice(0, 2) : [null, null];
        [0, 1].forEach(function (end) {
          row.appendChild(valueInput(field.type, field.choices, range[end], false, function (value) {
            range[end] = value;
            condition.value = range.slice();
            changed();
          }));
        });
      } else {
        row.appendChild(valueInput(field.type, field.choices, condition.value, isMulti(condition.op) && field.listValue, function (value) {
          condition.value = value;
          changed();
        }));
      }
      field.params.forEach(function (param) {
        var label = el("label", { class: "builder-param", text: param.label + " " });
        var input = valueInput(param.type, param.choices, condition[param.name], false, function (value) {
          if (value === null) delete condition[param.name];
          else condition[param.name] = value;
          changed();
        });
        input.className = "builder-param-value";
        label.appendChild(input);
        row.appendChild(label);
      });
      var remove = el("button", { type: "button", class: "btn btn-sm", text: texts.remove });
      remove.addEventListener("click", onRemove);
      row.appendChild(remove);
    }
    draw();
    return row;
  }

  // A group is {mode: "all"|"any", negated: bool, children: [condition | group]}.
  function fromTree(tree) {
    if (!tree || typeof tree !== "object") return { mode: "all", negated: false, children: [] };
    if (tree.not) {
      var inner = fromTree(tree.not.field ? { all: [tree.not] } : tree.not);
      inner.negated = !inner.negated;
      return inner;
    }
    if (tree.all || tree.any) {
      var mode = tree.all ? "all" : "any";
      return {
        mode: mode,
        negated: false,
        children: tree[mode].map(function (child) { return child.field ? child : fromTree(child); }),
      };
    }
    return { mode: "all", negated: false, children: tree.field ? [tree] : [] };
  }

  function toTree(group) {
    var children = group.children.map(function (child) { return child.field !== undefined ? child : toTree(child); })
      .filter(function (child) { return child !== null; });
    if (!children.length) return null;
    var node = {};
    node[group.mode] = children;
    return group.negated ? { not: node } : node;
  }

  function groupBox(group, onRemove) {
    var box = el("div", { class: "builder-group", "data-testid": "builder-group" });
    var mode = el("select", { class: "builder-mode", "aria-label": "mode" }, [
      el("option", { value: "all", text: texts.all }), el("option", { value: "any", text: texts.any }),
    ]);
    mode.value = group.mode;
    mode.addEventListener("change", function () { group.mode = mode.value; changed(); });
    var negate = el("input", { type: "checkbox", class: "builder-not" });
    negate.checked = group.negated;
    negate.addEventListener("change", function () { group.negated = negate.checked; changed(); });
    var head = el("div", { class: "builder-group-head" }, [mode, el("label", {}, [negate, document.createTextNode(" " + texts.not)])]);
    if (onRemove) {
      var remove = el("button", { type: "button", class: "btn btn-sm", text: texts.remove });
      remove.addEventListener("click", onRemove);
      head.appendChild(remove);
    }
    var list = el("div", { class: "builder-children" });
    function drawChildren() {
      list.innerHTML = "";
      if (!group.children.length) list.appendChild(el("p", { class: "muted", text: texts.empty }));
      group.children.forEach(function (child, index) {
        var drop = function () { group.children.splice(index, 1); drawChildren(); changed(); };
        list.appendChild(child.field !== undefined ? conditionRow(child, drop) : groupBox(child, drop));
      });
    }
    var addCondition = el("button", { type: "button", class: "btn btn-sm", "data-testid": "builder-add-condition", text: texts.addCondition });
    addCondition.addEventListener("click", function () { group.children.push(newCondition()); drawChildren(); changed(); });
    var addGroup = el("button", { type: "button", class: "btn btn-sm", text: texts.addGroup });
    addGroup.addEventListener("click", function () {
      group.children.push({ mode: "any", negated: false, children: [newCondition()] });
      drawChildren();
      changed();
    });
    box.appendChild(head);
    box.appendChild(list);
    box.appendChild(el("div", { class: "builder-add" }, [addCondition, addGroup]));
    drawChildren();
    return box;
  }

  // --- state, form field and live preview -----------------------------------------------------------
  var initial = null;
  try { initial = ruleField.value.trim() ? JSON.parse(ruleField.value) : null; } catch (error) { initial = null; }
  var state = fromTree(initial);
  var timer = null;
  var asked = 0;

  function changed() {
    var tree = toTree(state);
    ruleField.value = tree ? JSON.stringify(tree) : "";
    clearTimeout(timer);
    timer = setTimeout(function () { preview(tree); }, 350);
  }

  function preview(tree) {
    var ticket = ++asked;
    if (!tree) {
      countNode.textContent = "—";
      sampleNode.innerHTML = "";
      errorNode.hidden = true;
      return;
    }
    var segmentId = root.dataset.segmentId ? Number(root.dataset.segmentId) : null;
    fetch(root.dataset.previewUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf, Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ rule: tree, segment_id: segmentId }),
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (ticket !== asked) return; // a newer edit is on its way
      if (!answer.ok) {
        errorNode.textContent = (answer.body.field ? answer.body.field + ": " : "") + (answer.body.error || "");
        errorNode.hidden = false;
        return;
      }
      errorNode.hidden = true;
      countNode.textContent = answer.body.count.toLocaleString();
      sampleNode.innerHTML = "";
      answer.body.sample.forEach(function (customer) {
        sampleNode.appendChild(el("li", {}, [el("a", { href: customer.url, text: customer.name })]));
      });
    }).catch(function () {
      if (ticket !== asked) return;
      errorNode.textContent = texts.failed;
      errorNode.hidden = false;
    });
  }

  // The kind select hides the conditions for a static segment (a list is uploaded instead).
  var kind = document.querySelector("select[name=kind]");
  var section = document.querySelector("[data-rule-section]");
  if (kind && section) {
    var showRule = function () { section.hidden = kind.value !== "rule"; };
    kind.addEventListener("change", showRule);
    showRule();
  }

  ruleField.addEventListener("change", function () {
    try { state = fromTree(JSON.parse(ruleField.value)); } catch (error) { return; }
    root.innerHTML = "";
    root.appendChild(groupBox(state, null));
    preview(toTree(state));
  });

  root.appendChild(groupBox(state, null));
  if (initial) preview(toTree(state));
})();
