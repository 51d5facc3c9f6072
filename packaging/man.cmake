# cmake -DHELP2MAN=... -DGZIP=... -DTOOL=path -DNAME="one line" -DOUT=page.1.gz -P man.cmake
# A man page from the tool's own --help and --version (help2man), compressed as
# Debian wants it (gzip -9n: no name, no time stamp, so the build is reproducible).
get_filename_component(out_dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${out_dir})
string(REGEX REPLACE "\\.gz$" "" page ${OUT})
# The viewer answers --help before it opens a window; offscreen all the same.
set(ENV{QT_QPA_PLATFORM} offscreen)
# A tool with subcommands (CLI11's "Subcommands:" list): each one's --help is a
# section of its own, so every option of every subcommand is in the page.
execute_process(COMMAND ${TOOL} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TOOL} --help: ${rc}")
endif()
set(include_text "")
string(REGEX MATCH "\nSubcommands:\n([^\n]+\n)+" subs "${help}")
string(REGEX MATCHALL "\n  [a-z][-a-z]*" subs "${subs}")
get_filename_component(tool_name ${TOOL} NAME)
foreach(sub IN LISTS subs)
  string(STRIP "${sub}" sub)
  execute_process(COMMAND ${TOOL} ${sub} --help OUTPUT_VARIABLE sub_help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TOOL} ${sub} --help: ${rc}")
  endif()
  string(REPLACE "${TOOL}" "${tool_name}" sub_help "${sub_help}")   # the build path in "Usage:"
  string(REPLACE "\\" "\\e" sub_help "${sub_help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" sub_help "${sub_help}")
  string(APPEND include_text "[COMMAND ${sub}]\n.nf\n${sub_help}.fi\n\n")
endforeach()
set(include_arg "")
if(include_text)
  file(WRITE ${page}.h2m "${include_text}")
  set(include_arg --include=${page}.h2m)
endif()
execute_process(COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=1 "--name=${NAME}" ${include_arg}
                        --output=${page} ${TOOL}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man ${TOOL}: ${rc}")
endif()
execute_process(COMMAND ${GZIP} -9nf ${page} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${page}: ${rc}")
endif()
