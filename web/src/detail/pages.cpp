#include "detail/pages.hpp"

namespace supportd::web::detail {

// {{{content}}} is the only unescaped value: the already rendered (and escaped) inner page.
const std::string_view layout_page = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{title}} · supportd</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<header class="top">
<a class="brand" href="/">supportd <span>agents · 客服</span></a>
{{#agent}}<div class="who"><span class="agent">{{agent}}</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="link">Log out</button></form></div>{{/agent}}
</header>
<main>
{{{content}}}
</main>
</body>
</html>
)html";

const std::string_view login_page = R"html(<section class="card login">
<h1>Sign in</h1>
{{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
<form method="post" action="/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<label for="name">Your name (shown on notes and replies)</label>
<input id="name" name="name" type="text" maxlength="64" autocomplete="name">
<button type="submit">Sign in</button>
</form>
</section>
)html";

const std::string_view list_page = R"html(<h1>{{heading}}</h1>
<nav class="filters" aria-label="Filter by status">
{{#filters}}<a href="/?status={{value}}"{{#current}} class="current" aria-current="page"{{/current}}>{{label}}</a>
{{/filters}}</nav>
{{#empty}}<p class="empty">No threads here.</p>{{/empty}}
{{^empty}}<table class="threads">
<thead><tr><th>Ticket</th><th>Age</th><th>Priority</th><th>Status</th><th>Category</th><th>Customer</th><th>Subject</th><th>Assignee</th></tr></thead>
<tbody>
{{#threads}}<tr class="priority-{{priority_class}}">
<td class="ticket"><a href="/threads/{{id}}">{{ticket}}</a></td>
<td title="{{created}}">{{age}}</td>
<td>{{priority}}</td>
<td><span class="badge {{status}}">{{status}}</span></td>
<td>{{category}}</td>
<td class="customer">{{customer}}</td>
<td class="subject"><a href="/threads/{{id}}" lang="{{lang}}">{{subject}}</a></td>
<td>{{assignee}}</td>
</tr>
{{/threads}}</tbody>
</table>{{/empty}}
)html";

const std::string_view thread_page = R"html(<p class="crumbs"><a href="/">← All threads</a></p>
<h1 lang="{{lang}}">{{subject}}</h1>
<dl class="facts">
<div><dt>Ticket</dt><dd class="ticket">{{ticket}}</dd></div>
<div><dt>Status</dt><dd><span class="badge {{status}}" id="status">{{status}}</span></dd></div>
<div><dt>Customer</dt><dd>{{customer}}</dd></div>
<div><dt>Category</dt><dd>{{category}}</dd></div>
<div><dt>Priority</dt><dd>{{priority}}</dd></div>
<div><dt>Assignee</dt><dd id="assignee">{{assignee}}</dd></div>
<div><dt>Opened</dt><dd title="{{created}}">{{age}} ago</dd></div>
</dl>
{{#flash}}<p class="flash" role="status">{{flash}}</p>{{/flash}}
{{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
<div class="columns">
<section class="conversation" aria-label="Conversation">
<h2>Conversation</h2>
{{#messages}}<article class="msg {{direction}}">
<header><strong>{{who}}</strong> <time>{{when}}</time> <span class="badge decision">{{decision}}</span></header>
{{#reason}}<p class="reason">{{reason}}</p>{{/reason}}
{{#meta}}<p class="meta">{{meta}}</p>{{/meta}}
<div class="body" lang="{{lang}}">{{body}}</div>
</article>
{{/messages}}
<h2>Notes</h2>
{{#has_notes}}{{#notes}}<article class="note">
<header><strong>{{author}}</strong> <time>{{when}}</time></header>
<div class="body">{{text}}</div>
</article>
{{/notes}}{{/has_notes}}
{{^has_notes}}<p class="empty">No notes yet.</p>{{/has_notes}}
</section>
<aside class="actions">
<form method="post" action="/threads/{{id}}/reply" class="card" id="reply-form">
<h2>Reply to the customer</h2>
<p class="meta">To: {{customer_address}}<br>Subject: {{reply_subject}}</p>
<input type="hidden" name="csrf" value="{{csrf}}">
<textarea name="body" rows="8" required aria-label="Reply text"{{#reply_disabled}} disabled{{/reply_disabled}}></textarea>
<button type="submit"{{#reply_disabled}} disabled{{/reply_disabled}}>Send reply</button>
</form>
<form method="post" action="/threads/{{id}}/note" class="card" id="note-form">
<h2>Internal note</h2>
<input type="hidden" name="csrf" value="{{csrf}}">
<textarea name="text" rows="3" required aria-label="Note text"></textarea>
<button type="submit">Add note</button>
</form>
<form method="post" action="/threads/{{id}}/assign" class="card" id="assign-form">
<h2>Assign</h2>
<input type="hidden" name="csrf" value="{{csrf}}">
<input name="assignee" value="{{assign_value}}" maxlength="64" aria-label="Assignee">
<button type="submit">Assign</button>
</form>
<div class="card status-actions">
{{#can_resolve}}<form method="post" action="/threads/{{id}}/resolve" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Resolve</button></form>{{/can_resolve}}
{{#can_reopen}}<form method="post" action="/threads/{{id}}/reopen" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Reopen</button></form>{{/can_reopen}}
</div>
</aside>
</div>
)html";

const std::string_view error_page = R"html(<section class="card">
<h1>{{heading}}</h1>
<p>{{message}}</p>
<p><a href="/">Back to the threads</a></p>
</section>
)html";

const std::string_view stylesheet = R"css(:root {
  --fg: #1d2330; --muted: #5d6678; --line: #dde2ea; --bg: #f5f7fa; --card: #fff;
  --accent: #2456c7; --in: #ffffff; --out: #eef4ff; --note: #fff8e1;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC",
        "PingFang SC", "Microsoft YaHei", sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top {
  display: flex; justify-content: space-between; align-items: center;
  padding: .6rem 1.4rem; background: #1d2b4f; color: #fff;
}
header.top .brand { color: #fff; font-weight: 700; font-size: 1.1rem; }
header.top .brand span { font-weight: 400; opacity: .75; margin-left: .4rem; font-size: .9rem; }
header.top .who { display: flex; gap: .8rem; align-items: center; }
button.link { background: none; border: 0; color: #cfe0ff; padding: 0; cursor: pointer; font: inherit; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.4rem 3rem; }
h1 { font-size: 1.45rem; margin: .6rem 0 .8rem; overflow-wrap: anywhere; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1rem; margin-bottom: 1rem; }
.card h2 { margin-top: 0; }
.login { max-width: 420px; margin: 3rem auto; }
label { display: block; margin: .6rem 0 .2rem; color: var(--muted); font-size: .9rem; }
input, textarea {
  width: 100%; padding: .45rem .55rem; border: 1px solid #c3cad6; border-radius: 6px;
  font: inherit; background: #fff;
}
textarea { resize: vertical; }
button {
  margin-top: .6rem; padding: .45rem 1rem; border: 0; border-radius: 6px; background: var(--accent);
  color: #fff; font: inherit; cursor: pointer;
}
button:disabled { background: #9aa5b8; cursor: not-allowed; }
form.inline { display: inline; }
.filters { display: flex; flex-wrap: wrap; gap: .4rem; margin-bottom: .8rem; }
.filters a { padding: .25rem .7rem; border: 1px solid var(--line); border-radius: 999px; background: #fff; }
.filters a.current { background: var(--accent); color: #fff; border-color: var(--accent); }
table.threads { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
table.threads th, table.threads td { padding: .5rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.threads th { background: #eef1f6; font-size: .85rem; color: var(--muted); font-weight: 600; }
table.threads td.subject { overflow-wrap: anywhere; }
table.threads td.ticket { white-space: nowrap; font-family: ui-monospace, monospace; font-size: .9rem; }
tr.priority-high td:first-child { border-left: 4px solid #d64545; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; background: #e4e8ef; color: #333; }
.badge.escalated { background: #fde2e1; color: #a12622; }
.badge.open { background: #fff1cc; color: #7a5600; }
.badge.resolved { background: #dcf5e3; color: #1d6b35; }
.badge.auto_replied { background: #e1ecff; color: #1d4596; }
.badge.decision { background: #eef0f4; color: var(--muted); }
dl.facts { display: flex; flex-wrap: wrap; gap: .4rem 1.6rem; margin: 0 0 1rem; }
dl.facts div { display: flex; flex-direction: column; }
dl.facts dt { font-size: .8rem; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.columns { display: grid; grid-template-columns: minmax(0, 1fr) 340px; gap: 1.2rem; }
@media (max-width: 900px) { .columns { grid-template-columns: 1fr; } }
article.msg, article.note { border: 1px solid var(--line); border-radius: 8px; padding: .7rem .9rem; margin-bottom: .8rem; background: var(--in); }
article.msg.out { background: var(--out); margin-left: 2rem; }
article.note { background: var(--note); }
article header { font-size: .9rem; color: var(--muted); margin-bottom: .3rem; }
article header strong { color: var(--fg); }
.reason, .meta { font-size: .85rem; color: var(--muted); margin: .1rem 0 .3rem; overflow-wrap: anywhere; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; }
.flash { background: #dcf5e3; border: 1px solid #a9e0b9; padding: .5rem .8rem; border-radius: 6px; }
.error { background: #fde2e1; border: 1px solid #f2b3b0; padding: .5rem .8rem; border-radius: 6px; }
.empty { color: var(--muted); }
.crumbs { margin: .2rem 0; }
)css";

}  // namespace supportd::web::detail
