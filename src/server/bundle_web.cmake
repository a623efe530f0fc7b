# Writes OUT (a directory) with what the operator serves from SRC (web/static): the ES
# modules under assets/ joined into one module, assets/app.HASH.js, the style sheet as
# assets/style.HASH.css, index.html pointing at both, and every other file as it is.
# HASH is the file's SHA-256 (16 hex digits): a new build is a new name, so the server
# lets browsers cache assets/ for good and a page load costs no revalidation round trips.
# Run with cmake -P at build time; no toolchain beyond CMake.
#
# The join is what a bundler does for modules that only import each other by name:
# each module's `import {...} from './x.js';` is dropped and its `export` keywords
# removed, in an order where every module comes after those it imports (main.js, the
# entry point, last). That is sound while two rules hold, checked here: no two modules
# declare the same top-level name, and imports are by plain name (no `as`, `*`,
# default exports or exports of a list).
cmake_minimum_required(VERSION 3.20)

# The modules reachable from assets/main.js, each after what it imports (depth first; an
# import cycle, main.js <-> a view, is cut where it closes, which is fine because no
# module runs another's code while it is being evaluated).
set(order "")
set(visiting "")
function(visit module)
  list(FIND order ${module} done)
  list(FIND visiting ${module} open)
  if(NOT done EQUAL -1 OR NOT open EQUAL -1)
    return()
  endif()
  list(APPEND visiting ${module})
  set(visiting "${visiting}" PARENT_SCOPE)
  file(READ ${SRC}/assets/${module} text)
  string(REGEX MATCHALL "from '\\./[a-z_-]+\\.js'" imports "${text}")
  foreach(i ${imports})
    string(REGEX REPLACE "from '\\./([a-z_-]+\\.js)'" "\\1" dep "${i}")
    visit(${dep})
  endforeach()
  list(APPEND order ${module})
  set(order "${order}" PARENT_SCOPE)
endfunction()
visit(main.js)

set(bundle "// plumbline's dashboard: web/static/assets/*.js joined by src/server/bundle_web.cmake.\n")
set(names "")
foreach(module ${order})
  file(READ ${SRC}/assets/${module} text)
  string(REGEX MATCHALL "(^|\n)import [^;]*" imports "${text}")  # (a `;` ends a list item)
  foreach(i ${imports})
    if(NOT i MATCHES "^\n?import {[^}]*} from '\\./[a-z_-]+\\.js'$" OR i MATCHES " as ")
      message(FATAL_ERROR "web/static/assets/${module}: `${i}`: only `import { a, b } from "
                          "'./x.js';` can be joined (see bundle_web.cmake)")
    endif()
  endforeach()
  if(text MATCHES "(^|\n)export (default|{)")
    message(FATAL_ERROR "web/static/assets/${module}: only `export function|const|...` can be "
                        "joined (see bundle_web.cmake)")
  endif()
  string(REGEX REPLACE "import {[^;]*} from '\\./[a-z_-]+\\.js';\n" "" text "${text}")
  string(REPLACE "\nexport " "\n" text "\n${text}")
  # Top-level declarations start a line; two modules declaring one name would clash.
  string(REGEX MATCHALL "\n(async )?(function\\*?|const|let|var|class) [A-Za-z_$][A-Za-z0-9_$]*"
         decls "${text}")
  foreach(d ${decls})
    string(REGEX REPLACE ".* ([A-Za-z_$][A-Za-z0-9_$]*)$" "\\1" name "${d}")
    if("${name}" IN_LIST names)
      message(FATAL_ERROR "web/static/assets/${module}: `${name}` is declared by another module "
                          "too; rename one (the modules are joined into one scope)")
    endif()
    list(APPEND names "${name}")
  endforeach()
  string(APPEND bundle "\n// ---- ${module} ----${text}")
endforeach()

file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT}/assets)

function(write_hashed rel content out_name)
  string(SHA256 hash "${content}")
  string(SUBSTRING "${hash}" 0 16 hash)
  string(REGEX REPLACE "\\.([a-z]+)$" ".${hash}.\\1" name "${rel}")
  file(WRITE ${OUT}/${name} "${content}")
  set(${out_name} "${name}" PARENT_SCOPE)
endfunction()

write_hashed(assets/app.js "${bundle}" js_name)
file(READ ${SRC}/assets/style.css css)
write_hashed(assets/style.css "${css}" css_name)

file(READ ${SRC}/index.html html)
foreach(ref "/assets/main.js|/${js_name}" "/assets/style.css|/${css_name}")
  string(REPLACE "|" ";" pair "${ref}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  string(FIND "${html}" "\"${from}\"" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "web/static/index.html must refer to ${from}")
  endif()
  string(REPLACE "\"${from}\"" "\"${to}\"" html "${html}")
endforeach()
file(WRITE ${OUT}/index.html "${html}")

# Everything else (the icon, ...) as it is.
file(GLOB_RECURSE rest RELATIVE ${SRC} ${SRC}/*)
foreach(f ${rest})
  if(NOT f MATCHES "^assets/.*\\.(js|css)$" AND NOT f STREQUAL "index.html")
    configure_file(${SRC}/${f} ${OUT}/${f} COPYONLY)
  endif()
endforeach()
