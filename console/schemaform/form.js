// form.js wires up forms rendered by Orc's console/schemaform: it adds and
// removes array items and shows the chosen alternative of a choice. It is
// served as a file and reads only data-sf-* attributes: no eval, no inline
// handlers or styles, so it runs under a strict Content-Security-Policy.
(function () {
  'use strict';
  var ATTRS = ['id', 'name', 'for', 'aria-describedby', 'data-sf-ptr'];

  // swap replaces the prefix from of each space-separated token of v that
  // starts with it and goes on with one of the characters in next.
  function swap(v, from, to, next, split) {
    var toks = split ? v.split(' ') : [v];
    return toks.map(function (t) {
      var rest = t.slice(from.length);
      if (t.indexOf(from) === 0 && (rest === '' || next.indexOf(rest.charAt(0)) >= 0)) {
        return to + rest;
      }
      return t;
    }).join(' ');
  }

  // rename moves a template row from the pointer p0 (and id i0) to p1 (i1),
  // in nested templates too.
  function rename(root, p0, p1, i0, i1) {
    root.querySelectorAll('*').forEach(function (el) {
      ATTRS.forEach(function (a) {
        var v = el.getAttribute(a);
        if (v === null) { return; }
        var ids = a === 'id' || a === 'for' || a === 'aria-describedby';
        v = ids ? swap(v, i0, i1, '-.', a === 'aria-describedby') : swap(v, p0, p1, '/~', false);
        el.setAttribute(a, v);
      });
      if (el.tagName === 'TEMPLATE') { rename(el.content, p0, p1, i0, i1); }
    });
  }

  function add(arr, list) {
    var max = arr.getAttribute('data-sf-max');
    if (max !== null && list.children.length >= +max) { return; }
    var n = +arr.getAttribute('data-sf-next');
    arr.setAttribute('data-sf-next', n + 1);
    var row = arr.querySelector(':scope > template').content.cloneNode(true);
    var p = arr.getAttribute('data-sf-ptr');
    rename(row, p + '/-', p + '/' + n, arr.id + '-_2d', arr.id + '-' + n);
    var num = row.querySelector('[data-sf-num]');
    if (num) { num.textContent = list.children.length + 1; }
    list.appendChild(row);
    var first = list.lastElementChild.querySelector('input:not([type=hidden]),select,textarea');
    if (first) { first.focus(); }
  }

  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('[data-sf-add],[data-sf-remove]');
    if (!b) { return; }
    var arr = b.closest('[data-sf-array]');
    var list = arr.querySelector(':scope > [data-sf-items]');
    if (b.hasAttribute('data-sf-add')) {
      add(arr, list);
    } else if (list.children.length > +(arr.getAttribute('data-sf-min') || 0)) {
      b.closest('[data-sf-item]').remove();
      arr.querySelector(':scope > [data-sf-add]').focus();
    }
  });

  document.addEventListener('change', function (e) {
    var s = e.target;
    if (!s.matches || !s.matches('select[data-sf-choice]')) { return; }
    var box = s.closest('[data-sf-choices]');
    box.querySelectorAll(':scope > [data-sf-alt]').forEach(function (f) {
      var off = f.getAttribute('data-sf-alt') !== s.value;
      f.hidden = off;
      f.disabled = off;
    });
  });
}());
