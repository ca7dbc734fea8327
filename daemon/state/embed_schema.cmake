# Embeds schema/NNNN_name.sql into a C++ source file so udmd needs no schema
# directory at run time. Run as `cmake -DSCHEMA_DIR=... -DOUTPUT=... -P` by
# daemon/state/CMakeLists.txt whenever a migration changes.

if(NOT SCHEMA_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "embed_schema.cmake: SCHEMA_DIR and OUTPUT are required")
endif()

file(GLOB schema_files ${SCHEMA_DIR}/*.sql)
list(SORT schema_files)
if(NOT schema_files)
  message(FATAL_ERROR "embed_schema.cmake: no migrations (NNNN_name.sql) in ${SCHEMA_DIR}")
endif()

set(entries "")
set(expected 1)
foreach(file IN LISTS schema_files)
  get_filename_component(base ${file} NAME)
  if(NOT base MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "${file}: a migration must be named NNNN_name.sql (name: a-z, 0-9, _)")
  endif()
  set(name ${CMAKE_MATCH_2})
  math(EXPR version "1${CMAKE_MATCH_1} - 10000")  # "0001" without octal surprises
  if(NOT version EQUAL expected)
    message(FATAL_ERROR
      "${file}: expected migration ${expected} next; versions run 1, 2, 3, ... without gaps")
  endif()
  file(READ ${file} sql)
  string(FIND "${sql}" ")udm_sql\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file}: contains the raw-string delimiter )udm_sql\"")
  endif()
  string(APPEND entries
    "    {${version}, \"${name}\", R\"udm_sql(${sql})udm_sql\"},\n")
  math(EXPR expected "${expected} + 1")
endforeach()

file(WRITE ${OUTPUT} "// Generated from schema/*.sql by daemon/state/embed_schema.cmake; do not edit.
// One entry per migration, in version order.
#include \"state/migrations.h\"

namespace udm::daemon {
namespace {

constexpr Migration kMigrations[] = {
${entries}};

}  // namespace

std::span<const Migration> EmbeddedMigrations() { return kMigrations; }

}  // namespace udm::daemon
")
