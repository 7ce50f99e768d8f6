// "Open now" on office pages: whether the office is open at this moment in
// the city's time zone, else when it opens next. Worked out in the browser,
// so that exported pages stay the same from day to day; without script the
// opening hours listed below say the same.
(function () {
  "use strict";
  var DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
  // The public holidays of the city's state (holidays.js): date → [German, English name].
  var HOLIDAYS = window.KATALOG_HOLIDAYS || {};

  // The calendar date and minute of the day in `zone`.
  function cityNow(zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    }).formatToParts(new Date()).forEach(function (part) { parts[part.type] = part.value; });
    return {
      day: Date.UTC(+parts.year, +parts.month - 1, +parts.day),
      minute: (+parts.hour % 24) * 60 + +parts.minute
    };
  }

  function minutes(time) {
    var hm = time.split(":");
    return +hm[0] * 60 + +hm[1];
  }

  function isoDate(day) {
    return new Date(day).toISOString().slice(0, 10);
  }

  // The office's own exception for a calendar day, if one covers it.
  function exceptionOn(schedule, day) {
    var iso = isoDate(day);
    for (var i = 0; i < schedule.exceptions.length; i++) {
      var exception = schedule.exceptions[i];
      if (exception.from <= iso && iso <= (exception.until || exception.from)) {
        return exception;
      }
    }
    return null;
  }

  // The names of the public holiday that closes the office on a calendar
  // day: none when the office names its own hours for the day.
  function closingHoliday(schedule, day) {
    return exceptionOn(schedule, day) ? null : HOLIDAYS[isoDate(day)] || null;
  }

  // The opening slots of one calendar day: its exception if one covers it,
  // else none on a public holiday, else the weekly hours of its weekday.
  function slotsOn(schedule, day) {
    var exception = exceptionOn(schedule, day);
    if (exception) {
      return exception.closed ? [] : exception.slots;
    }
    if (HOLIDAYS[isoDate(day)]) {
      return [];
    }
    var weekday = DAYS[new Date(day).getUTCDay()];
    return schedule.slots.filter(function (slot) { return slot.days.indexOf(weekday) >= 0; });
  }

  function fill(element) {
    var schedule = JSON.parse(element.getAttribute("data-schedule"));
    var now = cityNow(element.getAttribute("data-zone"));
    var lang = document.documentElement.lang || "de";
    var holiday = closingHoliday(schedule, now.day);
    // On a public holiday the line names it (a ui.toml of its own may lack the words).
    var closed = holiday && element.getAttribute("data-holiday") ? "data-holiday" : "data-closed";
    var say = function (template, day, time) {
      var words = element.getAttribute(template).replace("{day}", day).replace("{time}", time);
      return holiday ? words.replace("{holiday}", holiday[lang === "en" ? 1 : 0]) : words;
    };
    var today = slotsOn(schedule, now.day);
    for (var i = 0; i < today.length; i++) {
      if (minutes(today[i].opens) <= now.minute && now.minute < minutes(today[i].closes)) {
        element.textContent = say("data-open", "", today[i].closes);
        element.hidden = false;
        return;
      }
    }
    for (var ahead = 0; ahead < 15; ahead++) {
      var day = now.day + ahead * 86400000;
      var slots = slotsOn(schedule, day)
        .filter(function (slot) { return ahead > 0 || minutes(slot.opens) > now.minute; })
        .sort(function (a, b) { return minutes(a.opens) - minutes(b.opens); });
      if (slots.length) {
        var name = ahead === 0 ? element.getAttribute("data-today")
          : ahead === 1 ? element.getAttribute("data-tomorrow")
          : new Intl.DateTimeFormat(lang, { weekday: "long", timeZone: "UTC" }).format(new Date(day));
        element.textContent = say(closed, name, slots[0].opens);
        element.hidden = false;
        return;
      }
    }
  }

  var elements = document.querySelectorAll(".open-now[data-schedule]");
  for (var i = 0; i < elements.length; i++) {
    try { fill(elements[i]); } catch (error) { /* the listed hours remain */ }
  }
})();
