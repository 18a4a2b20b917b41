# Sourced by the other scripts: repo root, tool paths, small helpers. Sets no options of its own.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$REPO_ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# Where the e2e tests find the browser (override to use another Chromium build).
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

# Each line says how long the script has run (bash's SECONDS): where CI's time goes.
say() {
  local at
  at=$(printf '%d:%02d' $((SECONDS / 60)) $((SECONDS % 60)))
  if [[ -t 2 ]]; then printf '\033[1m==> [%s] %s\033[0m\n' "$at" "$*" >&2; else printf '==> [%s] %s\n' "$at" "$*" >&2; fi
}

# The exact wasm-bindgen version pinned in Cargo.toml (`wasm-bindgen = "=X.Y.Z"`).
# wasm-bindgen-cli must match it exactly.
wasm_bindgen_version() {
  local v
  v="$(sed -nE 's/^wasm-bindgen[[:space:]]*=.*"=([0-9]+\.[0-9]+\.[0-9]+)".*/\1/p' "$REPO_ROOT/Cargo.toml" | head -n1)"
  if [[ -z "$v" ]]; then
    echo "Cargo.toml must pin wasm-bindgen exactly, e.g. wasm-bindgen = \"=0.2.130\"" >&2
    return 1
  fi
  echo "$v"
}
