# batch_ops: PGXS build (the official build). C++17 objects linked into one
# shared library; see README.md for the test commands.
EXTENSION   = batch_ops
EXT_VERSION = 0.2.0
MODULE_big  = batch_ops
# src/watch is batch_ops_watch, a client program (see below), not part of the library.
SRCS        = $(sort $(filter-out src/watch/%,$(wildcard src/*/*.cpp)))
OBJS        = $(SRCS:.cpp=.o)
# The first release's script, then one upgrade script per release: CREATE EXTENSION
# runs them in order, and ALTER EXTENSION batch_ops UPDATE runs the new ones.
DATA        = $(sort $(wildcard sql/batch_ops--*.sql))
PGFILEDESC  = "batch_ops - reliable batch operations inside PostgreSQL"

# pg_regress suites live in sql/ and expected/ (the extension script is not a test).
REGRESS      = $(sort $(filter-out batch_ops--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=test/out/regress
ISOLATION      = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/out/isolation

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

# No LLVM bitcode for C++ objects.
override with_llvm = no

include $(PGXS)

PG_INCLUDE_SERVER := $(shell $(PG_CONFIG) --includedir-server)
override CPPFLAGS := -I$(CURDIR)/src $(filter-out -I$(PG_INCLUDE_SERVER),$(CPPFLAGS)) -isystem $(PG_INCLUDE_SERVER)
override CXXFLAGS := -std=c++17 -fPIC -O2 -g -Wall -Wextra -Wno-register -Wno-unused-parameter -Wno-missing-field-initializers -fno-strict-aliasing -fwrapv
SHLIB_LINK += -lstdc++ $(libpq)
# The library refuses a schema of another version (src/pg/security.cpp). After
# include $(PGXS), PG_CPPFLAGS would no longer reach CPPFLAGS: add it directly, and
# rebuild security.o when the version here changes.
override CPPFLAGS += -DBATCH_OPS_VERSION=\"$(EXT_VERSION)\"
src/pg/security.o: Makefile
override CPPFLAGS += -I$(shell $(PG_CONFIG) --includedir)

# BATCH_OPS_SANITIZE=address,undefined builds the library with those sanitizers (test/check
# asan, in a copy of the tree: docs/reliability.md). The server that loads it needs the
# ASan runtime preloaded (test/lib.sh does it for the test cluster).
ifneq ($(BATCH_OPS_SANITIZE),)
override CXXFLAGS += -fsanitize=$(BATCH_OPS_SANITIZE) -fno-omit-frame-pointer -O1
SHLIB_LINK += -fsanitize=$(BATCH_OPS_SANITIZE)
endif

%.o: %.cpp
	$(CXX) $(CXXFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

-include $(SRCS:.cpp=.d)

# batch_ops_watch: a separate C++17 client program (src/watch, libpq only; docs/watch.md),
# built by `make` and installed by `make install` into $(pg_config --bindir). An explicit
# rule: PGXS allows no PROGRAM beside MODULE_big. Its objects are not PIC and see no
# server headers.
WATCH       = batch_ops_watch
WATCH_SRCS  = $(sort $(wildcard src/watch/*.cpp))
WATCH_OBJS  = $(WATCH_SRCS:.cpp=.o)
WATCH_CPPFLAGS = -I$(CURDIR)/src -isystem $(shell $(PG_CONFIG) --includedir) -DBATCH_OPS_VERSION=\"$(EXT_VERSION)\"
WATCH_CXXFLAGS = -std=c++17 -O2 -g -Wall -Wextra -Wno-missing-field-initializers

src/watch/%.o: src/watch/%.cpp
	$(CXX) $(WATCH_CXXFLAGS) $(WATCH_CPPFLAGS) -MMD -MP -c -o $@ $<

$(WATCH): $(WATCH_OBJS)
	$(CXX) $(WATCH_CXXFLAGS) -o $@ $(WATCH_OBJS) -L$(shell $(PG_CONFIG) --libdir) -lpq

src/watch/main.o: Makefile

all: $(WATCH)

install: install-watch
installdirs: installdirs-watch
uninstall: uninstall-watch
clean: clean-watch
.PHONY: install-watch installdirs-watch uninstall-watch clean-watch

installdirs-watch:
	$(MKDIR_P) '$(DESTDIR)$(bindir)'

install-watch: $(WATCH) installdirs-watch
	$(INSTALL_PROGRAM) $(WATCH) '$(DESTDIR)$(bindir)/$(WATCH)'

uninstall-watch:
	rm -f '$(DESTDIR)$(bindir)/$(WATCH)'

clean-watch:
	rm -f $(WATCH) $(WATCH_OBJS) $(WATCH_SRCS:.cpp=.d)

-include $(WATCH_SRCS:.cpp=.d)

EXTRA_CLEAN = $(SRCS:.cpp=.d) test/out build
