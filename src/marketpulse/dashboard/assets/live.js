// Live push for every dashboard page: one WebSocket to the API (/v1/ws, the dashboard's read key), every
// symbol's ticks, bars, indicators, predictions and sentiment merged per symbol into the "live-store"
// dcc.Store (at most every 250 ms), so pages redraw on data instead of polling. Reconnects after 2 s.
(function () {
  "use strict";
  var state = {};          // symbol -> {tick: {...}, bar_1m: {...}, indicators: {...}, ...}
  var lastMessageAt = null; // browser time (ms) of the newest data message
  var lastPublishedAt = null; // the stream writer's published_at (s) of the newest data message
  var dirty = false;
  var SECTION = {ticks: "tick", indicators: "indicators", predictions: "prediction", sentiment: "sentiment"};

  function section(message) {
    if (message.channel === "bars") {
      return message.data.interval === "1s" ? "bar_1s" : "bar_1m";
    }
    return SECTION[message.channel];
  }

  function flush() {
    if (!dirty || !window.dash_clientside || !window.dash_clientside.set_props) {
      return;
    }
    dirty = false;
    window.dash_clientside.set_props("live-store", {
      data: {symbols: state, received_at: lastMessageAt, published_at: lastPublishedAt, connected: true}
    });
  }

  function connect() {
    var config = document.getElementById("live-config");
    if (!config) {
      setTimeout(connect, 200); // the layout is not rendered yet
      return;
    }
    var socket = new WebSocket(config.dataset.url + "?api_key=" + encodeURIComponent(config.dataset.key));
    socket.onopen = function () {
      socket.send(JSON.stringify({op: "subscribe", symbols: ["*"],
        channels: ["ticks", "bars", "indicators", "predictions", "sentiment"]}));
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type !== "data") {
        return;
      }
      var name = section(message);
      if (!name) {
        return;
      }
      var symbolState = state[message.symbol] || (state[message.symbol] = {});
      symbolState[name] = Object.assign(symbolState[name] || {}, message.data);
      lastMessageAt = Date.now();
      if (typeof message.published_at === "number") {
        lastPublishedAt = message.published_at;
      }
      dirty = true;
    };
    socket.onclose = function () {
      if (window.dash_clientside && window.dash_clientside.set_props) {
        window.dash_clientside.set_props("live-store", {
          data: {symbols: state, received_at: lastMessageAt, published_at: lastPublishedAt, connected: false}
        });
      }
      setTimeout(connect, 2000);
    };
  }

  setInterval(flush, 250);
  connect();
})();
