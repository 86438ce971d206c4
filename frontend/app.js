// Lists the built-in protocols the server reports.
const list = document.getElementById("protocols");
const res = await fetch("/api/protocols");
for (const p of await res.json()) {
  const li = document.createElement("li");
  li.textContent = `${p.name}: ${p.description}`;
  list.append(li);
}
