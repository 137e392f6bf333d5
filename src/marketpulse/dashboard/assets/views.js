// Views drawn in the browser from the live store (no server round trip per update): the live/stale indicator
// and the market overview's rows. Registered as Dash clientside callbacks (namespace "marketpulse").
(function () {
  "use strict";
  var BLOCKS = "▁▂▃▄▅▆▇█";

  function number(value) {
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  function sparkline(closes) {
    var values = closes.filter(function (v) { return number(v) !== null; });
    if (values.length < 2) {
      return "";
    }
    var low = Math.min.apply(null, values), high = Math.max.apply(null, values);
    return values.map(function (v) {
      var step = high > low ? Math.round((v - low) / (high - low) * (BLOCKS.length - 1)) : 3;
      return BLOCKS.charAt(step);
    }).join("");
  }

  function clock(ms) {
    return new Date(ms).toISOString().substring(11, 19) + " UTC";
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.marketpulse = {
      // -> [text, style] of the indicator: live while data arrived within stale_s, else since when it is stale.
      indicator: function (_n, live, staleS) {
        var style = {fontWeight: "bold", marginLeft: "2em"};
        if (!live || !live.received_at) {
          return [live && live.connected === false ? "offline: reconnecting to the API" : "waiting for live data",
            Object.assign(style, {color: "#888"})];
        }
        var age = (Date.now() - live.received_at) / 1000;
        if (age <= staleS) {
          var dataAge = live.published_at ? " (data " + Math.max(0, Date.now() / 1000 - live.published_at).toFixed(1) + " s old)" : "";
          return ["● live" + dataAge, Object.assign(style, {color: "#1a7f37"})];
        }
        return ["● stale since " + clock(live.received_at), Object.assign(style, {color: "#b35900"})];
      },
      // The symbol page's price from the newest push (tick, else 1 s bar); no_update while none arrived.
      symbolPrice: function (live, symbol) {
        var s = (live && live.symbols && live.symbols[symbol]) || null;
        if (!s) {
          return [window.dash_clientside.no_update, window.dash_clientside.no_update];
        }
        var tick = s.tick || {}, bar = s.bar_1s || {};
        var price = number(tick.price) !== null ? tick.price : number(bar.close);
        if (price === null) {
          return [window.dash_clientside.no_update, window.dash_clientside.no_update];
        }
        return [price.toFixed(2), tick.ts || bar.ts || ""];
      },
      // base: rows the server built (open, day volume, sparkline closes, latest state) every 30 s; live: pushes.
      overview: function (live, base) {
        var symbols = (live && live.symbols) || {};
        return (base || []).map(function (row) {
          var s = symbols[row.symbol] || {};
          var tick = s.tick || {}, bar1s = s.bar_1s || {}, bar1m = s.bar_1m || {};
          var ind = s.indicators || {}, pred = s.prediction || {}, sent = s.sentiment || {};
          var price = number(tick.price);
          if (price === null) { price = number(bar1s.close); }
          if (price === null) { price = number(bar1m.close); }
          if (price === null) { price = row.price; }
          var closes = (row.spark || []).concat(price !== null ? [price] : []);
          var change = row.open && price !== null ? (price - row.open) / row.open * 100 : null;
          return {
            symbol: "[" + row.symbol + "](/symbol/" + row.symbol + ")",
            price: price,
            chg_pct: change,
            spark: sparkline(closes),
            volume: row.volume,
            rsi_14: number(ind.rsi_14) !== null ? ind.rsi_14 : row.rsi_14,
            prob_up: number(pred.prob_up) !== null ? pred.prob_up : row.prob_up,
            model: pred.model_version || row.model,
            sentiment: number(sent.mean) !== null ? sent.mean : row.sentiment,
            buzz: number(sent.buzz) !== null ? sent.buzz : row.buzz,
            ts: tick.ts || row.ts
          };
        });
      }
  };
})();
