"""The temporal layer: durations in weeks, and what only looks like one.

A clause's durations are read after the spans that are not durations are blanked out: ages ("a
47-year-old", "58 yo"), follow-up and aftercare intervals ("return in 2 weeks", "follow up in 3 to 4
weeks", "every 6 weeks"), and planned schedules ("will start PT 3x/week for 4 weeks" is read by the
assertion layer as planned, so its care does not count as done). Abbreviations are read ("x8 wks",
"x 2 mos", "1 yr+", "6 wks of PT"); a vague plural ("several months", "for years") counts as two of
its unit. Dates are patterns the lexicon uses ({date}, {relative_time}): numeric, month names,
labelled ("DOI 3/3/26"), in parentheses, weekdays and relative ones ("3 days ago", "yesterday").
An encounter's date is not the event's: a date or "today" that an admission, a visit, an imaging
study or an operation is dated by ("admitted on 8/6/07 after a fall", "seen today after a fall", "on
7/26 he was taken back to the operating room") is blanked where an injury's date is read
(`without_encounter_dates`, for an element marked `event` in the vocabulary).
"""

from __future__ import annotations

import polars as pl

from cleanclaim.validators.notes.normalize import BLANK

NUMBER_WORDS = {
    "a": "1",
    "an": "1",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "couple of": "2",
    "couple": "2",
    "few": "2",
    "several": "2",
    "many": "2",
    "multiple": "2",
}
_WORDS = (
    r"a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"couple of|couple|few|several|many|multiple"
)
# a number, or a number word followed by a space or hyphen ("and" is not "an" days)
_AMOUNT = rf"\d{{1,3}}(?:\.\d)?|(?:{_WORDS})[\s-]"
_UNIT = r"d|days?|wks?|weeks?|mos?|months?|yrs?|years?|decades?"
# amount, then unit; "x8 wks", "6-week", "1 yr+", "6+ months", "2 to 3 months" (the larger is read),
# "two and a half years" (the whole part)
DURATION = rf"\b(?:x\s*)?(?:(?:\d{{1,3}})\s*(?:-|to)\s*)?({_AMOUNT})\s*\+?\s*(?:and a half\s+)?-?\s*({_UNIT})\b\+?"
# "for months", "for years": two of the unit
VAGUE = r"\bfor (?:some |many |several )?(months|years)\b"
WEEKS_PER = {
    "d": 1 / 7,
    "day": 1 / 7,
    "days": 1 / 7,
    "wk": 1.0,
    "wks": 1.0,
    "week": 1.0,
    "weeks": 1.0,
    "mo": 52 / 12,
    "mos": 52 / 12,
    "month": 52 / 12,
    "months": 52 / 12,
    "yr": 52.0,
    "yrs": 52.0,
    "year": 52.0,
    "years": 52.0,
    "decade": 520.0,
    "decades": 520.0,
}
# Spans that are never a duration, blanked before durations are read.
AGE = (
    rf"\b(?:{_AMOUNT})\s*-?\s*(?:years?|yrs?|months?|mos?|weeks?|wks?|days?|y)\s*-?\s*old\b"
    r"|\b\d{1,3}\s*(?:yo|y/o|y\.o\.|yr old)\b|\bage(?:d)?\s*\d{1,3}\b"
)
# an amount of a unit, not captured ("3 weeks", "a month", "2-wk")
_PERIOD = rf"(?:{_AMOUNT})\s*-?\s*(?:{_UNIT})\b"
FOLLOW_UP = (
    rf"\b(?:in|within|every|q|after|next|another|additional|over the next)\s+(?:about\s+|approximately\s+)?"
    rf"(?:\d{{1,3}}\s*(?:-|to)\s*)?{_PERIOD}"
    r"|\b(?:\d+\s*(?:x|times)|once|twice|\w+ times)\s*(?:a|per|/|each)\s*(?:day|week|wk|month)\b"
    # an instruction's span ("pain diary for 2 weeks")
    rf"|\bdiary\s+(?:for|x)\s*(?:the next\s+)?{_PERIOD}"
)
# a dose's rate ("two pain pills a day"): the rate is blanked, the drug's words kept
DOSE_RATE = r"\b(pills?|tablets?|tabs?|capsules?|caps|doses?|puffs?)\s+(?:a|per|/|each)\s*(?:day|week|wk|month)\b"
# how long an injection's relief lasted is no span of the pain ("65% relief after the 08/18 injection
# lasting until the end of October (about 10 weeks)", "8 weeks of relief")
RELIEF_SPAN = (
    rf"\b(?:relief|improvement|benefit)\b[^.;]{{0,80}}?\b(?:lasting|lasted|lasts)\b[^.;]{{0,40}}?{_PERIOD}"
    rf"|\d\s?%\s*(?:[a-z]+\s+){{0,2}}?(?:relief|improvement|benefit)\b[^.;]{{0,40}}?\b(?:for|x)\s*{_PERIOD}"
    rf"|\b(?:injection|block|esi)\b[^.;]{{0,40}}?\b(?:lasting|lasted|lasts)\b[^.;]{{0,40}}?{_PERIOD}"
    rf"|{_PERIOD}\s+of\s+(?:\d+\s?%\s+)?(?:pain\s+)?(?:relief|improvement|benefit)\b"
)
# how fast the pain came on, in hours or days, is no span of it ("since 07/27, when it came on over a
# few days"); "progressed over 18 months" is
ONSET_TEMPO = (
    r"\b(?:came on|come on|comes on|developed|built up)\s+(?:gradually\s+|slowly\s+|quickly\s+|rapidly\s+)?"
    rf"over\s+(?:the\s+course\s+of\s+)?(?:a\s+)?(?:{_AMOUNT})\s*-?\s*(?:hours?|hrs?|days?)\b"
)
# a drug's course is no span of the pain or of the care ("a 6-day methylprednisolone taper")
DRUG_COURSE = (
    rf"\b(?:{_AMOUNT})\s*-?\s*days?\s+(?:of\s+)?(?:[a-z]+\s+){{0,2}}?(?:taper|course|burst|dose ?pa(?:c)?k|supply)\b"
    rf"|\b(?:taper|burst|dose ?pa(?:c)?k|course of (?:oral )?(?:steroids?|prednisone|medrol|antibiotics?))\s+(?:for|x|over)\s*(?:{_AMOUNT})\s*-?\s*days?\b"
)
# time away from work or school is the leave's span, not the pain's ("off work for 3 weeks", "missed 2
# weeks of school", "light duty x 4 wks")
LEAVE = (
    r"\b(?:off|out of|away from|missed|restricted from)\s+(?:work|school|duty)\s+(?:for|x)\s*"
    rf"(?:(?:the )?(?:past|last)\s+)?{_PERIOD}"
    rf"|\b(?:missed|lost)\s+{_PERIOD}\s+(?:of\s+)?(?:work|school)\b"
    rf"|\b(?:light|modified|restricted) duty\s+(?:for|x)\s*{_PERIOD}"
)
MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAY = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun"
DATE = (
    r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}\.\d{1,2}\.(?:19|20)\d{2}\b"
    # month and day, or month and year, without the rest ("on 10/12", "in 5/92"): only after a
    # preposition, since a bare "5/5" or "2/6" is a strength grade or a murmur
    r"|\b(?:on|in|of|since|dated)\s+\d{1,2}/(?:\d{1,2}/\d{2,4}|0?[1-9]|1[1-9]|[2-9]\d)\b|\b\d{1,2}/(?:19|20)\d{2}\b"
    rf"|\b(?:{MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s*(?:\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?(?:\s+(?:of\s+)?|-)(?:{MONTH})\b"
    rf"|\b(?:in|on|of|since)\s+(?:{MONTH})\b|\b(?:{MONTH})\s+(?:of\s+)?\d{{4}}\b"
    r"|\b(?:in|since|of)\s+(?:19|20)\d{2}\b|\bmm/dd/yy(?:yy)?\b"
    rf"|\b(?:early|mid|late)[- ](?:{MONTH})\b"
    # a weekday names its month and day ("Mon 11/30")
    rf"|\b(?:{_WEEKDAY})\.?,?\s+\d{{1,2}}/\d{{1,2}}\b"
)
# the day a leave from work began ("off work beginning 10/1/2026") starts no pain, as LEAVE's span
# is none (defined after DATE, which it reads)
LEAVE_BEGAN = (
    r"\b(?:off|out of)\s+(?:work|school|duty)\s+(?:beginning|starting|since|from|as of)\s+(?:on\s+)?"
    rf"(?:{DATE})"
)
HOLIDAY = (
    r"\b(?:thanksgiving|christmas(?: eve| day)?|new year'?s(?: eve| day)?|easter|halloween|"
    r"memorial day|labor day|independence day|(?:the )?fourth of july|july 4th|veterans'? day|black friday|"
    r"good friday|valentine'?s day|mother'?s day|father'?s day|presidents'? day|mlk day|"
    r"st\.? patrick'?s day)\b"
)
_SPAN = r"minutes?|mins?|hours?|hrs?|h|days?|d|nights?|evenings?|mornings?|weekends?|weeks?|wks?|w|months?|mos?|years?|yrs?"
_EVENT = (
    r"injury|accident|fall|collision|crash|incident|trauma|assault|fight|bite|mv[ac]|fender-bender"
)
# an acute symptom's span of hours, days or weeks ("c/o R ankle pain/swelling x 2 days"): in an injury's
# account, the time since the injury told beside it
SYMPTOM_SPAN = (
    r"\b(?:pain|swelling|bruising|sx|symptoms)(?:\W+(?:and |& |with )?(?:pain|swelling|bruising|"
    r"stiffness|numbness|tingling|ecchymosis|deformity))?\W+(?:x|for)\s*"
    rf"(?:{_AMOUNT})\s*-?\s*(?:hours?|hrs?|h|days?|d|weeks?|wks?)\b"
)
RELATIVE_TIME = (
    rf"\b(?:x\s*)?(?:{_AMOUNT})\s*(?:and a half\s+)?(?:{_SPAN})(?: and a half)?\s+(?:ago|prior|previously|before|earlier|pta)\b"
    r"|\bon the \d{1,2}(?:st|nd|rd|th)\b"
    # "2 days back," as some clinicians write "ago" (not "2 days back pain")
    rf"|\b(?:{_AMOUNT})\s*(?:{_SPAN})\s+back(?:\s*[,.;:)]|\s*$)"
    # "two days status post fall", "a 3-week-old fracture", "the fracture is a couple of months old",
    # "pain x 3 days after a fall", "s/p MVC x 2 days", "FOOSH x2d"
    rf"|\b(?:x|for)\s*(?:{_AMOUNT})\s*-?\s*(?:{_SPAN})\s+(?:after|since|following|s/p|status post) (?:the |a |an |his |her )?(?:{_EVENT})"
    rf"|\b(?:(?:s/p|status post) (?:the |a |an |his |her )?)?(?:{_EVENT}|foosh|glf)\s+x\s*(?:{_AMOUNT})\s*-?\s*(?:{_SPAN})\b"
    rf"|\b(?:{_AMOUNT})\s*-?\s*(?:{_SPAN})\s+(?:(?:status post|s/p|since|after|following) (?:the |a |an |his |her )?(?:[a-z]+ ){{0,2}}(?:{_EVENT})"
    # or the injury told by its verb ("two hours after being bitten", "a week after falling")
    r"|(?:after|since|following) (?:being (?:bitten|struck|hit|stung|kicked|thrown|assaulted)|falling|tripping|slipping|twisting|injuring)\b)"
    rf"|\b(?:injury|fracture|laceration|wound|sprain|strain|burn|bite|tear)\s+(?:is|was)\s+(?:about |approximately |nearly |over )?(?:a |an )?(?:{_AMOUNT})\s*-?\s*(?:{_SPAN})\s*-?\s*old\b"
    rf"|\b(?:on|last|this past|past|this|since)\s+(?:{_WEEKDAY})\b|\b(?:{_WEEKDAY})\s+(?:night|nite|morning|evening|afternoon|[ap]\.?m)\b"
    r"|\byest(?:erday|\.)?(?:\b|$)|\by'?day\b|\bydy\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues?|thurs?|fri)\b|\b(?:last|this past|past) (?:night|nite|evening|week|weekend|month|year)\b|\bthis (?:morning|afternoon|evening)\b|\b(?:this|last) [ap]\.?m\b"
    r"|\b(?:over|during|since) the (?:holiday |long )?weekend\b|\bearlier (?:this|in the) (?:week|month|day|evening|morning)\b|\bthe other (?:day|night)\b"
    r"|\bon the (?:night|evening|morning|afternoon|day) of\b|\bon that (?:day|date|night|evening|morning|afternoon)\b"
    r"|\bthe (?:night|evening|morning|afternoon|day) of the \d{1,2}(?:st|nd|rd|th)\b"
    r"|\b(?:sometime|some time) (?:overnight|during the night)\b|\bin the middle of the night\b"
    # a fall "overnight" (not an admission's or a fast's night)
    r"|\b(?:fell|falls?|fallen|injured|happened|occurred|slipped|tripped)(?:\s+[\w-]+){0,5}?\s+overnight\b"
    r"|\b(?:just |shortly |right |immediately )?(?:prior to|before) (?:arrival|admission|presentation|coming in)|\bpta\b|\bthe day of (?:the )?(?:injury|accident|fall|collision)"
    r"|\b(?:earlier )?today\b|\bton(?:ight|ite)\b|\bthe (?:day|night|morning|evening|afternoon) (?:before|prior)\b"
    r"|\bthe previous (?:day|night|morning|evening|afternoon|week|weekend)\b|\bearlier that (?:day|morning|afternoon|evening|night)\b"
    rf"|\b(?:{_AMOUNT})\s*-?\s*(?:hours?|days?|weeks?|months?)\s*-?\s*old\s+(?:injury|fracture|laceration|wound|sprain|strain|burn|bite)"
    r"|(?:\b(?:at|around|about|approximately|approx\.?|between)|@)\s+(?:\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?|o'clock|hours)|\d{1,2}:\d{2}\b|noon|midnight)"
    r"|\b\d{1,2}(?::\d{2})?\s*[ap]\.?m\b"
    # a time labelled as the incident's ("incident time 1920", "time of injury 0645")
    r"|\b(?:(?:incident|injury|accident) time|time of (?:the )?(?:incident|injury|accident))\s*:?\s*(?:[01]\d|2[0-3]):?[0-5]\d\b"
    # a 24-hour clock time after "at" ("at 0200", "at ~0630", "at approx 0200", "approx 0500"; not a dose, "at 1000 mg"; not after
    # "approximately", which times an exam as often as an injury), a holiday
    r"|(?:\bat|@|\bapprox\.?|\baround|\binjured)\s+(?:~\s*|(?:approx\.?|about|around)\s+)?(?:[01]\d|2[0-3])[0-5]\d(?:\s*(?:hrs?|hours)\b|\s*$|\s*[,.;)]|\s+-\s+[a-z]|\s+[abd-fh-ln-tv-z]|\s+g[eio])"
    # "at approximately 0200 when she got up", "(approximately 0315)": an exam's "at approximately 1930
    # hours" keeps its hours
    r"|(?:\bat|\()\s*approximately\s+(?:[01]\d|2[0-3])[0-5]\d(?:\s*$|\s*[,.;)]|\s+[abd-fgi-ln-tv-z])"
    # "s/p fall at home ~0630,"
    r"|(?:^|[\s(])~\s*(?:[01]\d|2[0-3])[0-5]\d(?:\s*(?:hrs?|hours)\b|\s*$|\s*[,.;)])"
    rf"|{HOLIDAY}"
)


# What an admission, a visit, an imaging study or an operation is dated by: "admitted to the hospital
# on 8/6/07", "presented to the emergency department on 1/7/09" (up to six words apart), "seen in our
# office today", and a date before it, "on 7/26/08 he was taken back to the operating room". A date
# the injury itself is named just before ("seen after a car accident on 9/5/26", "fell today") is
# the injury's, as is a labelled one ("closed DOI 11/22/26"): PROTECT marks it first, and an
# encounter's span does not reach across the mark.
_ENCOUNTER = (
    r"admit[0-9a-z_]*|admission|present(?:s|ed|ing)?|seen|(?:i|we) saw|evaluated|examined|visits?|visited|here|treated|"
    r"transferred|discharged|returns?|returned|underwent|undergo[0-9a-z_]*|scheduled|performed|operat[0-9a-z_]*|surger(?:y|ies)|"
    r"surgical|taken|placed|closed|x-?rays?|xrs?|films?|radiographs?|mri|ct|scans?|stud(?:y|ies)|exam(?:ination)?|"
    r"labs?|checked|check|dictated|h&p|consult[0-9a-z_]*|follow(?:-?up|ed)|reviewed|obtained|repaired|debrided|orif|crpp|"
    r"hospitali[sz][0-9a-z_]*|reduc(?:ed|tion)|fixation|cast|splint(?:ed)?|(?:comes?|came|brought) (?:in|to|back)|"
    # an operation by its name ("s/p arthroscopy 10/20/2026")
    r"[a-z]+(?:ectomy|plasty|otomy|ostomy|oscopy|desis|pexy|rrhaphy)|pinning|i&d|"
    r"dos|date of (?:service|visit|exam|examination|evaluation|admission|surgery)|today'?s date"
)
# after a date, only the words that name an encounter outright ("on 3/14 he came down on his ankle")
_ENCOUNTER_AFTER = (
    r"admit[0-9a-z_]*|seen|evaluated|examined|transferred|discharged|underwent|operat[0-9a-z_]*|surger(?:y|ies)|"
    r"taken (?:back )?to|x-?rays?|mri|ct|presented|returned|hospitali[sz][0-9a-z_]*"
)
_INJURED = (
    r"injur[0-9a-z_]*|accident|collision|crash|mv[ac]|falls?|fell|fallen|slipped|tripped|twisted|struck|hit|"
    r"assault[0-9a-z_]*|bitten|stung|burned|burnt|occurred|happened|"
    r"sustained|hurt|incident|doi|doa|checked (?:hard )?into the (?:boards|glass|wall)"
)
_MARK = "\x1a"
_GAP = f"[^0-9a-z_{_MARK}]+"  # what separates words, never the mark
_WHEN = (
    # a stay's range ("admitted 11/12/2026-11/17/2026") to its end
    rf"(?:on |dated |from |of )?(?:(?:{DATE})(?:\s*(?:-|to|through|thru)\s*(?:{DATE}))?|(?:today|tonight|this (?:morning|afternoon|evening))"
    r"(?:,? (?:on |dated )?\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b)?)"
    r"(?:,?\s+(?:at|@)\s+(?:[01]\d|2[0-3]):?[0-5]\d\b)?"
)
PROTECT = rf"\b({_INJURED})((?:{_GAP}[0-9a-z_]+){{0,3}}?{_GAP})((?:at |on |in )?(?:{DATE}|today|tonight|this (?:morning|afternoon|evening)))"
# a date that names the injury after it ("the October 4, 2000, motor vehicle accident", "the 2/14/26
# work injury was evaluated") is the injury's, whatever encounter words come before or after it; the
# injury is the phrase's head (its end, or a word that goes on about it), not a modifier ("3/3/26 fall
# risk assessment", "3/3/26 trauma protocol")
PROTECT_BEFORE = (
    rf"\b((?:{DATE}),?\s+(?:(?:motor|vehicle|car|auto|bicycle|bike|pedestrian|work|workplace|"
    rf"industrial|sports?|skiing|rear-end|head-on|ground-level|mechanical|[a-z]+-related)\s+){{0,3}}"
    rf"(?:{_EVENT}))(\s*$|\s*[,.;)]|\s+(?:on|at|in|when|while|that|which|where|and|was|is|"
    r"resulted|caused|left)\b)"
)
ENCOUNTER_DATE = (
    rf"\b(?:{_ENCOUNTER})(?:{_GAP}[0-9a-z_]+){{0,6}}?{_GAP}{_WHEN}"
    # a date before it ("today and was brought in" does not undate "fell today")
    rf"|\b(?:on |dated )?(?:{DATE}),?(?:{_GAP}[0-9a-z_]+){{0,3}}?{_GAP}(?:{_ENCOUNTER_AFTER})\b"
)


# a relative, a bystander or an animal's owner who saw something is no encounter ("rabies tag seen by
# mother this morning")
_SEEN_BY_FAMILY = (
    r"\bseen by (?:his |her |their |the )?(?:mother|father|mom|dad|parents?|wife|husband|spouse|"
    r"family|owner|coworkers?|friends?|witness\w*|teachers?|coach\w*)\b"
)


# care without an operation is no operation ("fell 01/24/2026, treated non-operatively"), nor is a
# wound "present since" a day a presentation
_NON_OPERATIVE = r"\bnon-?operative(?:ly)?\b"
_PRESENT_SINCE = r"\bpresent (since)\b"


def without_encounter_dates(clause: pl.Expr) -> pl.Expr:
    """The clause with the dates of encounters blanked, so an injury's date is not read from them."""
    return (
        clause.str.replace_all(_SEEN_BY_FAMILY, "noted")
        .str.replace_all(_NON_OPERATIVE, "conservative")
        .str.replace_all(_PRESENT_SINCE, "${1}")
        .str.replace_all(PROTECT, f"${{1}}${{2}}{_MARK}${{3}}")
        .str.replace_all(PROTECT_BEFORE, f"{_MARK}${{1}}{_MARK}${{2}}")
        .str.replace_all(ENCOUNTER_DATE, BLANK)
    )


def without_non_durations(clause: pl.Expr) -> pl.Expr:
    """The clause with ages, follow-up intervals, a drug course's days, a leave from work, how fast the
    pain came on, how long a relief lasted and a dose's rate blanked, so no duration is read from
    them."""
    return (
        clause.str.replace_all(AGE, " ")
        .str.replace_all(FOLLOW_UP, " ")
        .str.replace_all(DRUG_COURSE, " ")
        .str.replace_all(LEAVE, " ")
        .str.replace_all(LEAVE_BEGAN, " ")
        .str.replace_all(ONSET_TEMPO, " ")
        .str.replace_all(RELIEF_SPAN, " ")
        .str.replace_all(DOSE_RATE, "${1} ")
    )


def weeks(clause: pl.Expr) -> pl.Expr:
    """The longest duration stated in the clause, in weeks (null when none)."""
    text = without_non_durations(clause)
    found = text.str.extract_all(DURATION).list.eval(
        pl.element()
        .str.extract(DURATION, 1)
        .str.strip_chars(" -\t")
        .replace(NUMBER_WORDS)
        .cast(pl.Float64, strict=False)
        * pl.element()
        .str.extract(DURATION, 2)
        .replace_strict(WEEKS_PER, default=None, return_dtype=pl.Float64)
    )
    vague = text.str.extract(VAGUE, 1).replace_strict(
        {"months": 2 * 52 / 12, "years": 104.0}, default=None, return_dtype=pl.Float64
    )
    return pl.max_horizontal(found.list.max(), vague)


# A span told by its start ("since 10/29/2026", "onset 08/03/2026", "started a Medrol Dosepak on
# 10/01/2026", "since March 3, 2026", "since 03/2026"): the start word, up to four words, the date.
# A month and day without a year starts nothing here ("since 10/15" could be October 2015).
_START = r"\b(?:since|onset|start\w*|began|begun|beginning)\b(?:\W+[a-z]+){0,4}?\W+"
# care that ended started nothing that goes on ("tried gabapentin, started 06/01/2026, stopped")
# (a car "rear-ended" stopped nothing, where a drug "self-discontinued" stopped)
_STOPPED = r"\b(?:stopped|discontinued|quit|d/c'?d|finished|completed)\b|(?:^|[^0-9a-z_-])ended\b"
_STARTED_ON = (
    _START + r"(?:(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b|(\d{1,2})/((?:19|20)\d{2})\b"
    rf"|(\d{{4}})-(\d{{2}})-(\d{{2}})\b|({MONTH})\.?\s+(?:(\d{{1,2}})(?:st|nd|rd|th)?,?\s+)?((?:19|20)\d{{2}})\b)"
)
_MONTH_NUMBER = {
    name: str(number)
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def started(clause: pl.Expr) -> pl.Expr:
    """The date a span in the clause started on (null when none is told), which the rules count to
    the visit's date: numeric month/day/year (a two-digit year is this century's up to 50), month and
    year, ISO, or a month's name with its year."""
    found = clause.str.extract_groups(_STARTED_ON)
    field = found.struct.field

    def two_digit_year(year: pl.Expr) -> pl.Expr:
        number = year.cast(pl.Int32, strict=False)
        return (
            pl.when(year.str.len_chars() == 2)
            .then(pl.when(number <= 50).then(number + 2000).otherwise(number + 1900))
            .otherwise(number)
        )

    year = pl.coalesce(
        two_digit_year(field("3")),
        field("5").cast(pl.Int32),
        field("6").cast(pl.Int32),
        field("11").cast(pl.Int32),
    )
    month = pl.coalesce(
        field("1"),
        field("4"),
        field("7"),
        field("9").str.slice(0, 3).replace_strict(_MONTH_NUMBER, default=None),
    ).cast(pl.Int32, strict=False)
    day = pl.coalesce(field("2"), field("8"), field("10"), pl.lit("1")).cast(pl.Int32, strict=False)
    date = pl.format(
        "{}-{}-{}",
        year,
        month.cast(pl.String).str.zfill(2),
        day.cast(pl.String).str.zfill(2),
    ).str.to_date("%Y-%m-%d", strict=False)
    return pl.when(~clause.str.contains(_STOPPED)).then(date)
