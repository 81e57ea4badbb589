# checkpointlab(1), generated from the program's own --help pages so the two never disagree:
#   cmake -DCLI=path/to/checkpointlab -DOUT=checkpointlab.1.gz -DVERSION=0.1.0 -P man_page.cmake
# The main page (checkpointlab --help) gives the sections NAME to EXAMPLES; each command's page
# (run, plan, import --help) follows as a section of its own, its headings as subsections.
# The help pages are written like man pages: a heading in capitals at the margin, text indented
# four spaces, an option at four spaces with its description at eight.
cmake_minimum_required(VERSION 3.25)

# Text for roff: backslashes and minus signs escaped, a leading dot or quote made harmless.
function(roff_text line out)
  string(REPLACE "\\" "\\e" line "${line}")
  string(REPLACE "-" "\\-" line "${line}")
  if(line MATCHES "^[.']")
    set(line "\\&${line}")
  endif()
  set(${out} "${line}" PARENT_SCOPE)
endfunction()

# One help page as roff; `top` is the heading macro of its sections (.SH for the main page,
# .SS under a command's own .SH).
function(help_to_roff text top out)
  set(roff "")
  set(section "")
  # Line by line without CMake lists, whose ';' and '[' handling would mangle the text.
  string(APPEND text "\n")
  while(NOT text STREQUAL "")
    string(FIND "${text}" "\n" nl)
    string(SUBSTRING "${text}" 0 ${nl} line)
    math(EXPR next "${nl} + 1")
    string(SUBSTRING "${text}" ${next} -1 text)
    if(line MATCHES "^[A-Z][A-Z ]+$")
      if(section STREQUAL "SYNOPSIS" OR section STREQUAL "EXAMPLES")
        string(APPEND roff ".fi\n")
      endif()
      set(section "${line}")
      string(APPEND roff "${top} ${line}\n")
      if(section STREQUAL "SYNOPSIS" OR section STREQUAL "EXAMPLES")
        string(APPEND roff ".nf\n")
      endif()
    elseif(line STREQUAL "")
      if(NOT (section STREQUAL "SYNOPSIS" OR section STREQUAL "EXAMPLES"))
        string(APPEND roff ".PP\n")
      endif()
    elseif(section STREQUAL "SYNOPSIS" OR section STREQUAL "EXAMPLES")
      string(REGEX REPLACE "^    " "" line "${line}")
      roff_text("${line}" line)
      string(APPEND roff "${line}\n")
    elseif(line MATCHES "^    [^ ]" AND (section STREQUAL "OPTIONS" OR section STREQUAL "COMMANDS"
                                          OR section STREQUAL "EXIT STATUS"))
      # An option, a command or an exit status: its description below it, or (a command, an
      # exit status) beside it after two spaces or more.
      if(line MATCHES "^    ([^ ]+)  +(.+)$")
        roff_text("${CMAKE_MATCH_1}" tag)
        roff_text("${CMAKE_MATCH_2}" rest)
        string(APPEND roff ".TP\n.B ${tag}\n${rest}\n")
      else()
        string(REGEX REPLACE "^    " "" line "${line}")
        roff_text("${line}" line)
        string(APPEND roff ".TP\n.B ${line}\n")
      endif()
    else()
      string(REGEX REPLACE "^ +" "" line "${line}")
      roff_text("${line}" line)
      string(APPEND roff "${line}\n")
    endif()
  endwhile()
  if(section STREQUAL "SYNOPSIS" OR section STREQUAL "EXAMPLES")
    string(APPEND roff ".fi\n")
  endif()
  set(${out} "${roff}" PARENT_SCOPE)
endfunction()

function(help_of out)
  execute_process(COMMAND "${CLI}" ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${CLI} ${ARGN} failed (${rc})")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

if(NOT CLI OR NOT OUT OR NOT VERSION)
  message(FATAL_ERROR "usage: cmake -DCLI=checkpointlab -DOUT=checkpointlab.1.gz -DVERSION=x.y.z -P man_page.cmake")
endif()
string(TIMESTAMP date "%Y-%m-%d" UTC)  # SOURCE_DATE_EPOCH, when set, makes it reproducible
set(page ".TH CHECKPOINTLAB 1 \"${date}\" \"CheckpointLab ${VERSION}\" \"User Commands\"\n")
help_of(main --help)
help_to_roff("${main}" ".SH" roff)
string(APPEND page "${roff}")
foreach(command run plan import)
  help_of(text ${command} --help)
  string(TOUPPER "${command}" title)
  help_to_roff("${text}" ".SS" roff)
  string(APPEND page ".SH \"CHECKPOINTLAB ${title}\"\n${roff}")
endforeach()
string(APPEND page ".SH SEE ALSO\n"
       "The manual, in the program under Help \\(-> Manual and in /usr/share/doc/checkpointlab/manual.\n")
get_filename_component(dir "${OUT}" DIRECTORY)
get_filename_component(name "${OUT}" NAME_WE)
file(WRITE "${dir}/${name}.1" "${page}")
# Compressed as Debian wants it: best compression, no name or time stamp inside.
execute_process(COMMAND gzip -9nf "${dir}/${name}.1" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed on ${dir}/${name}.1")
endif()
