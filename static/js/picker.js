/* Searchable pickers over the REST API, as progressive enhancement: the form posts the same values with
   or without this script, and the server validates them the same way.

   [data-picker="search"]: one value (a duty id). The server renders a text box that takes the id; here it
   becomes hidden and a search box asks data-picker-source?q=… (the duties API) and sets the id picked.
   [data-picker="checkboxes"]: several values out of a box of checkboxes (agencies by code). The box is
   hidden; a search box asks the agencies API and ticks the matching checkbox; ticked ones show as chips.
   [data-picker="codes"]: a search box that adds the picked duty's code to a text box of codes
   (data-picker-target) and searches within the list chosen in data-picker-list. */
(function () {
  "use strict";

  var PAGE = 20;
  var uid = 0;

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function fetchResults(source, query, extra) {
    if (typeof extra === "function") { extra = extra(); }
    var url = source + (source.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(query) +
      "&page_size=" + PAGE + (extra || "");
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { return data.results || []; })
      .catch(function () { return []; });
  }

  /* A search box with a list of results under it, keyboard included. onPick(item) is called with the
     chosen result; label(item) is its text, or null to leave it out. */
  function searchBox(root, opts) {
    var id = "picker-" + (++uid);
    var input = document.createElement("input");
    input.type = "search";
    input.className = "input picker__search";
    input.id = opts.id || id + "-q";
    input.placeholder = root.dataset.pickerPlaceholder || "";
    input.autocomplete = "off";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id + "-results");
    var list = document.createElement("ul");
    list.className = "picker__results";
    list.id = id + "-results";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    var items = [];
    var active = -1;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      active = -1;
    }
    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      active = Math.max(0, Math.min(index, options.length - 1));
      options.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
      if (options[active]) { input.setAttribute("aria-activedescendant", options[active].id); }
    }
    function pick(index) {
      if (!items[index]) { return; }
      opts.onPick(items[index]);
      input.value = "";
      close();
    }
    function show(results) {
      list.innerHTML = "";
      items = [];
      results.forEach(function (item) {
        var text = opts.label(item);
        if (text === null) { return; }
        var option = document.createElement("li");
        option.setAttribute("role", "option");
        option.id = id + "-o" + items.length;
        option.className = "picker__option";
        option.textContent = text;
        option.dataset.index = String(items.length);
        option.addEventListener("mousedown", function (event) { event.preventDefault(); });
        option.addEventListener("click", function () { pick(Number(option.dataset.index)); });
        items.push(item);
        list.appendChild(option);
      });
      if (!items.length) {
        var empty = document.createElement("li");
        empty.className = "picker__empty";
        empty.textContent = root.dataset.pickerEmpty || "—";
        list.appendChild(empty);
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }
    input.addEventListener("input", debounce(function () {
      var query = input.value.trim();
      if (!query) { close(); return; }
      fetchResults(root.dataset.pickerSource, query, opts.extra).then(function (results) {
        if (input.value.trim() === query) { show(results); }
      });
    }, 200));
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter") {
        if (!list.hidden) { event.preventDefault(); pick(active < 0 ? 0 : active); }
      } else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    return { input: input, list: list };
  }

  function dutyLabel(item) {
    var lead = item.lead ? " — " + item.lead.name : "";
    return item.code + " " + item.title + lead + " (" + item.list + ")";
  }

  function enhanceSearch(root) {
    var value = root.querySelector("[data-picker-value]");
    var current = root.querySelector("[data-picker-current]");
    var label = value.id ? document.querySelector('label[for="' + value.id + '"]') : null;
    var box = searchBox(root, {
      id: value.id ? value.id + "_search" : "",
      label: dutyLabel,
      onPick: function (item) {
        value.value = String(item.id);
        current.textContent = dutyLabel(item);
        clear.hidden = false;
        value.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    var clear = document.createElement("button");
    clear.type = "button";
    clear.className = "button button--small picker__clear";
    clear.textContent = root.dataset.pickerClear || "×";
    clear.hidden = !value.value;
    clear.addEventListener("click", function () {
      value.value = "";
      current.textContent = "";
      clear.hidden = true;
      box.input.focus();
    });
    value.type = "hidden";
    if (label) { label.htmlFor = box.input.id; }
    root.insertBefore(box.input, current);
    root.appendChild(clear);
    root.appendChild(box.list);
    root.classList.add("picker--live");
  }

  function enhanceCheckboxes(root) {
    var boxes = {};
    root.querySelectorAll("input[type=checkbox]").forEach(function (box) { boxes[box.value] = box; });
    var options = root.querySelector("[data-picker-options]");
    var chips = document.createElement("ul");
    chips.className = "picker__chips";
    function textOf(box) {
      var label = box.closest("label");
      return label ? label.textContent.trim().replace(/\s+/g, " ") : box.value;
    }
    function renderChips() {
      chips.innerHTML = "";
      Object.keys(boxes).forEach(function (code) {
        var box = boxes[code];
        if (!box.checked) { return; }
        var chip = document.createElement("li");
        chip.className = "chip picker__chip";
        chip.dataset.value = code;
        chip.appendChild(document.createTextNode(textOf(box) + " "));
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "picker__remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", (root.dataset.pickerRemove || "Remove") + " " + textOf(box));
        remove.addEventListener("click", function () { box.checked = false; renderChips(); });
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
    }
    var box = searchBox(root, {
      extra: "&is_active=true",
      // Only agencies this form offers (the API also lists the filing agency itself, inactive ones …).
      label: function (item) { return boxes[item.code] ? item.name + " (" + item.code + ")" : null; },
      onPick: function (item) { boxes[item.code].checked = true; renderChips(); }
    });
    if (options) { options.hidden = true; }
    var anchor = options || root.lastChild;
    root.insertBefore(box.input, anchor);
    root.insertBefore(box.list, anchor);
    root.insertBefore(chips, anchor);
    renderChips();
    root.classList.add("picker--live");
  }

  function enhanceCodes(root) {
    var target = document.querySelector(root.dataset.pickerTarget);
    var scope = document.querySelector(root.dataset.pickerList);
    if (!target) { return; }
    var box = searchBox(root, {
      extra: function () { return scope && scope.value ? "&list=" + encodeURIComponent(scope.value) : ""; },
      label: dutyLabel,
      onPick: function (item) {
        if (scope && !scope.value) { scope.value = item.list; }
        var codes = target.value.split(/[\s,，、]+/).filter(Boolean);
        if (codes.indexOf(item.code) < 0) { codes.push(item.code); }
        target.value = codes.join(", ");
        target.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    root.appendChild(box.input);
    root.appendChild(box.list);
    root.hidden = false;
    root.classList.add("picker", "picker--live");
  }

  function start() {
    document.querySelectorAll("[data-picker]").forEach(function (root) {
      if (root.classList.contains("picker--live")) { return; }
      if (root.dataset.picker === "checkboxes") { enhanceCheckboxes(root); }
      else if (root.dataset.picker === "codes") { enhanceCodes(root); }
      else { enhanceSearch(root); }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
