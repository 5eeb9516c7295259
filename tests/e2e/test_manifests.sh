#!/bin/bash
# The deployment files agree: deploy/kubernetes/daemonset.yaml has the same
# capabilities, host views, read-only mounts, limits, command and health
# probe as deploy/compose.yaml; the compose health check is the image's
# HEALTHCHECK; the Docker 20.10 variant differs only by SYS_ADMIN standing
# for BPF + PERFMON + NET_ADMIN; README.md's capability table lists
# exactly the compose capabilities; tools/compose-docker-run translates
# every compose key.  Needs python3 with PyYAML (python3-yaml); no root.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

python3 - deploy/compose.yaml deploy/kubernetes/daemonset.yaml deploy/Dockerfile \
	README.md <<'PY'
import json, re, subprocess, sys
import yaml

compose_f, ds_f, dockerfile_f, readme_f = sys.argv[1:5]
fails = 0

def check(name, cond, detail=""):
    global fails
    if cond:
        print("ok - manifests: " + name)
    else:
        fails += 1
        print("not ok - manifests: %s%s" % (name, (": " + detail) if detail else ""))

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
def defaults(v):
    """compose values with ${VAR:-default} read as their defaults"""
    if isinstance(v, str):
        return VAR.sub(lambda m: m.group(2) or "", v)
    if isinstance(v, list):
        return [defaults(x) for x in v]
    if isinstance(v, dict):
        return {k: defaults(x) for k, x in v.items()}
    return v

def qty_bytes(s):
    """256m / 256Mi / 1g / 64Mi -> bytes (compose and Kubernetes units)"""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmMgG]i?)?[bB]?", str(s).strip())
    if not m:
        return None
    mult = {"k": 2**10, "m": 2**20, "g": 2**30}
    unit = (m.group(2) or "").lower()[:1]
    return int(float(m.group(1)) * mult.get(unit, 1))

def cpu(s):
    s = str(s)
    return float(s[:-1]) / 1000 if s.endswith("m") else float(s)

compose = defaults(yaml.safe_load(open(compose_f)))
svc = compose["services"]["vigil"]
old = compose["services"]["vigil-docker20"]
docs = list(yaml.safe_load_all(open(ds_f)))
ds = [d for d in docs if d and d.get("kind") == "DaemonSet"]
check("one DaemonSet in the manifest", len(ds) == 1)
ds = ds[0]
pod = ds["spec"]["template"]["spec"]
ctrs = pod["containers"]
check("one container in the pod", len(ctrs) == 1)
c = ctrs[0]
sc = c.get("securityContext", {})

# ---- capabilities
caps_c = set(svc["cap_add"])
caps_k = set(sc.get("capabilities", {}).get("add", []))
check("capabilities added agree", caps_c == caps_k, "%s vs %s" % (sorted(caps_c), sorted(caps_k)))
check("compose drops ALL", svc.get("cap_drop") == ["ALL"])
check("DaemonSet drops ALL", sc.get("capabilities", {}).get("drop") == ["ALL"])
check("capabilities are BPF, PERFMON, NET_ADMIN, SYS_PTRACE, DAC_READ_SEARCH",
      caps_c == {"BPF", "PERFMON", "NET_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"},
      str(sorted(caps_c)))
legacy = (caps_c - {"BPF", "PERFMON", "NET_ADMIN"}) | {"SYS_ADMIN"}
check("docker20 variant: SYS_ADMIN for BPF+PERFMON+NET_ADMIN, nothing else",
      set(old["cap_add"]) == legacy, str(sorted(old["cap_add"])))
same = {k: v for k, v in svc.items() if k != "cap_add"}
other = {k: v for k, v in old.items() if k not in ("cap_add", "profiles")}
check("docker20 variant: every other setting identical", same == other)

# ---- privilege and namespaces
check("no privileged mode", not sc.get("privileged", False) and not svc.get("privileged", False))
check("host PID namespace in both", svc.get("pid") == "host" and pod.get("hostPID") is True)
check("read-only root in both",
      svc.get("read_only") is True and sc.get("readOnlyRootFilesystem") is True)
check("no new privileges in both",
      "no-new-privileges:true" in svc.get("security_opt", [])
      and sc.get("allowPrivilegeEscalation") is False)
check("root uid in both (capabilities need it)",
      str(svc.get("user")) == "0:0" and sc.get("runAsUser") == 0)
check("no network exposure",
      svc.get("network_mode") == "none" and "ports" not in svc
      and not pod.get("hostNetwork", False) and "ports" not in c)
check("tolerates every taint",
      any(t.get("operator") == "Exists" and "key" not in t for t in pod.get("tolerations", [])))

# ---- mounts: host views match; runtime state is per runtime, read-only
RUNTIME = {"/var/lib/docker/containers", "/var/run/docker.sock", "/run/containerd"}
def compose_mounts(s):
    out = {}
    for v in s["volumes"]:
        parts = v.split(":")
        out[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
    return out
cm = compose_mounts(svc)
vols = {v["name"]: v for v in pod.get("volumes", [])}
km = {}
for m in c.get("volumeMounts", []):
    hp = vols.get(m["name"], {}).get("hostPath", {}).get("path")
    km[m["mountPath"]] = (hp, bool(m.get("readOnly", False)))
views_c = {k: v for k, v in cm.items() if k not in RUNTIME}
views_k = {k: v for k, v in km.items() if k not in RUNTIME}
run_c = views_c.pop("/run/vigil", None)
run_k = views_k.pop("/run/vigil", None)
check("host views mounted alike", views_c == views_k, "%s vs %s" % (views_c, views_k))
check("host views are read-only", all(ro for _, ro in views_c.values()) and views_c)
for need in ("/sys/kernel/btf", "/sys/fs/cgroup", "/sys/kernel/tracing"):
    check("mounts %s" % need, need in views_c and views_c[need][0] == need)
check("/run/vigil is the one writable mount in both",
      run_c is not None and run_k is not None and not run_c[1] and not run_k[1]
      and run_k[0] == "/run/vigil")
check("runtime state read-only in both",
      all(cm[p][1] for p in cm if p in RUNTIME) and all(km[p][1] for p in km if p in RUNTIME))
check("a runtime's state in each", any(p in RUNTIME for p in cm) and any(p in RUNTIME for p in km))
check("/proc not bind-mounted (host PID namespace gives the host's)",
      "/proc" not in cm and "/proc" not in km and "/host/proc" not in km)

# ---- resources
res = c.get("resources", {})
check("memory limit agrees",
      qty_bytes(svc["mem_limit"]) == qty_bytes(res.get("limits", {}).get("memory")),
      "%s vs %s" % (svc["mem_limit"], res.get("limits", {}).get("memory")))
check("memory request agrees",
      qty_bytes(svc["mem_reservation"]) == qty_bytes(res.get("requests", {}).get("memory")))
check("CPU limit agrees", cpu(svc["cpus"]) == cpu(res.get("limits", {}).get("cpu", 0)))
check("CPU request set", cpu(res.get("requests", {}).get("cpu", 0)) > 0)

# ---- command, logs, health
cmd = svc["command"]
check("same command", cmd == c.get("args"), "%s vs %s" % (cmd, c.get("args")))
check("JSON lines on stdout", "--json" in cmd)
hc = svc["healthcheck"]["test"]
probe = c.get("livenessProbe", {}).get("exec", {}).get("command")
check("health check is an exec probe (no shell)", hc[0] == "CMD" and probe == hc[1:],
      "%s vs %s" % (hc, probe))
df = open(dockerfile_f).read().replace("\\\n", " ")
m = re.search(r"^HEALTHCHECK\s.*?\sCMD\s+(\[.*\])\s*$", df, re.M)
img_hc = json.loads(m.group(1)) if m else None
check("compose health check is the image's HEALTHCHECK", img_hc == hc[1:], str(img_hc))
check("liveness probe timings match the compose health check",
      c["livenessProbe"].get("periodSeconds") == int(svc["healthcheck"]["interval"].rstrip("s"))
      and c["livenessProbe"].get("failureThreshold") == svc["healthcheck"]["retries"])
check("same image", svc["image"] == c.get("image"))

# ---- README table names the same capabilities
rows = re.findall(r"^\|\s*`CAP_([A-Z_]+)`", open(readme_f).read(), re.M)
check("README capability table lists the compose set plus SYS_ADMIN",
      set(rows) == caps_c | {"SYS_ADMIN"}, str(sorted(set(rows))))

# ---- the docker run translation covers every key
for name in ("vigil", "vigil-docker20"):
    r = subprocess.run(["tools/compose-docker-run", compose_f, name], capture_output=True,
                       text=True)
    check("tools/compose-docker-run translates %s" % name, r.returncode == 0, r.stderr.strip())
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || FAILS=$((FAILS + 1))

# the Kubernetes API schemas (npm kubernetes-models, installed into $BUILD)
k8s_valid() {
	python3 -c 'import json, sys, yaml
print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))' "$1" |
		BUILD=$BUILD node tests/e2e/validate_k8s.js > "$T/k8s.out" 2>&1 ||
		{ sed 's/^/#   /' "$T/k8s.out"; return 1; }
}
if command -v node >/dev/null && command -v npm >/dev/null; then
	[ -d "$BUILD/node_modules/kubernetes-models" ] ||
		timeout 180 npm install --prefix "$BUILD" --no-audit --no-fund kubernetes-models@5 \
			>/dev/null 2>&1
	check "manifests: objects valid against the Kubernetes API schemas" \
		k8s_valid deploy/kubernetes/daemonset.yaml
else
	echo "# skip: node/npm missing, Kubernetes schema validation not run"
fi
finish
