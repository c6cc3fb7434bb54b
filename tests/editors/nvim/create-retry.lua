-- Headless Neovim (0.7 and 0.12) through the setup docs/editors.md shows (readme-snippet.lua), playing the user:
-- :PlanfirstGenerate -> :PlanfirstApprove -> :PlanfirstExecute, whose step creates two files:
-- planfirst's own preview is discarded (nothing changes), then :PlanfirstExecute again: applied
-- (on 0.12 with the diff document's "Apply step 1" code lens, on 0.7 by answering the question),
-- validation fails, the retry edits the file the step created, its preview is applied, done.
-- Buffers are never saved (qall!): the disk must hold what was validated.
-- Environment: SNIPPET, PLANFIRST_CMD (JSON array), PLANFIRST_TASK, NVIM_RESULT.
vim.g.planfirst_cmd = vim.fn.json_decode((assert(os.getenv('PLANFIRST_CMD'))))
vim.cmd('luafile ' .. vim.fn.fnameescape((assert(os.getenv('SNIPPET')))))
local v = vim.version()
local result = { nvim = string.format('%d.%d.%d', v.major, v.minor, v.patch), notes = {}, questions = {}, diagnostics = {} }
local modern = vim.fn.has('nvim-0.8') == 1

local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(result.notes, msg)
  return notify(msg, level, opts)
end
local publish = vim.lsp.handlers['textDocument/publishDiagnostics']
vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, params, ctx, config)
  for _, d in ipairs(params.diagnostics or {}) do
    table.insert(result.diagnostics, { uri = params.uri, message = d.message })
  end
  return publish(err, params, ctx, config)
end

-- The user's answers to planfirst's questions, in order: 'Discard', 'Apply…' or false (dismiss,
-- then use the code lens). 0.7 asks with inputlist(), 0.12 with vim.ui.select() (both the
-- editor's own window/showMessageRequest handler).
local answers = {}
local function pick(message, titles)
  table.insert(result.questions, message)
  local want = table.remove(answers, 1)
  if want == false then return nil end
  for i, t in ipairs(titles) do
    if want and t:find(want, 1, true) == 1 then return i end
  end
  return nil
end
vim.fn.inputlist = function(items)
  local titles = {}
  for i = 3, #items do titles[#titles + 1] = items[i]:gsub('^%d+%. ', '') end
  return pick(items[1], titles) or 0
end
local select = vim.ui.select
vim.ui.select = function(items, opts, on_choice)
  if opts and opts.kind == 'lsp_message' then
    local titles = {}
    for i, it in ipairs(items) do titles[i] = it.title end
    local i = pick(opts.prompt, titles)
    return on_choice(i and items[i] or nil)
  end
  if opts and opts.kind == 'codelens' then -- :PlanfirstLens with several lenses: the user picks Apply
    for _, it in ipairs(items) do
      if it.lens.command.title:find('Apply', 1, true) then
        table.insert(result.notes, 'lens: ' .. it.lens.command.title)
        return on_choice(it)
      end
    end
  end
  return select(items, opts, on_choice)
end

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local t = f:read('*a')
  f:close()
  return t
end
local function noted(pattern, from)
  for i = from or 1, #result.notes do
    if result.notes[i]:match(pattern) then return result.notes[i] end
  end
end
local function buffer_text(path)
  local b = vim.fn.bufnr(vim.fn.fnamemodify(path, ':p'))
  if b == -1 or not vim.api.nvim_buf_is_loaded(b) then return nil end
  -- as Neovim would write it: a final line break when 'eol' or 'fixeol' is set
  local eol = (vim.bo[b].eol or vim.bo[b].fixeol) and '\n' or ''
  return table.concat(vim.api.nvim_buf_get_lines(b, 0, -1, false), '\n') .. eol
end

local function flow()
  local ok, err = pcall(function()
    local get = vim.lsp.get_clients or vim.lsp.get_active_clients
    local function client()
      for _, c in ipairs(get()) do if c.name == 'planfirst' then return c end end
    end
    vim.cmd('doautocmd BufReadPost') -- the snippet's autocmd came after the file was read
    assert(vim.wait(30000, function() local c = client(); return c and c.initialized end, 50), 'no planfirst client')
    vim.cmd('PlanfirstGenerate ' .. os.getenv('PLANFIRST_TASK'))
    assert(vim.wait(60000, function() return vim.api.nvim_buf_get_name(0):match('plan%.md$') ~= nil end, 50),
      ':PlanfirstGenerate did not open the plan')
    result.plan_file = vim.api.nvim_buf_get_name(0)
    vim.cmd('PlanfirstApprove')
    assert(vim.wait(30000, function() return noted('plan approved') end, 50), ':PlanfirstApprove did not approve')

    -- 1. discarded: nothing changes
    answers = { 'Discard' }
    local n = #result.notes
    vim.cmd('PlanfirstExecute')
    assert(vim.wait(60000, function() return noted('^planfirst: step 1 rejected', n + 1) end, 50),
      'the discarded step did not come back rejected: ' .. vim.inspect(result.notes))
    result.after_discard = {
      shout = read('textkit/shout.py'), test = read('tests/test_shout.py'),
      shout_buffer = buffer_text('textkit/shout.py'), question = result.questions[#result.questions],
    }

    -- 2. applied (0.12: dismiss the question, apply with the diff document's code lens), the
    -- retry on the created file applied by answering the question
    answers = modern and { false, 'Apply step 1' } or { 'Apply step 1', 'Apply step 1' }
    n = #result.notes
    vim.cmd('PlanfirstExecute')
    if modern then
      assert(vim.wait(60000, function() return vim.api.nvim_buf_get_name(0):match('%.diff$') ~= nil end, 50),
        'the preview document was not opened')
      result.preview_file = vim.api.nvim_buf_get_name(0)
      result.preview_text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
      local get_clients = vim.lsp.get_clients or vim.lsp.get_active_clients
      result.preview_clients = #get_clients({ bufnr = vim.api.nvim_get_current_buf() })
      assert(vim.wait(20000, function()
        local rok, rerr = pcall(vim.lsp.codelens.refresh)
        if not rok then result.refresh_error = tostring(rerr) end
        vim.wait(200)
        local lenses = vim.lsp.codelens.get(vim.api.nvim_get_current_buf())
        return lenses and #lenses >= 2
      end, 100), 'no code lenses on the preview document')
      result.lenses = {}
      for _, l in ipairs(vim.lsp.codelens.get(vim.api.nvim_get_current_buf())) do table.insert(result.lenses, l.command and l.command.title) end
      vim.api.nvim_win_set_cursor(0, { 1, 0 })
      vim.cmd('PlanfirstLens')
    end
    assert(vim.wait(120000, function() return noted('^planfirst: step 1 done', n + 1) end, 100),
      'step 1 did not finish: ' .. vim.inspect(result.notes))
    result.disk = { shout = read('textkit/shout.py'), test = read('tests/test_shout.py') }
    result.buffers = { shout = buffer_text('textkit/shout.py'), test = buffer_text('tests/test_shout.py') }
    result.plan_text = read(result.plan_file)
  end)
  if not ok then result.error = tostring(err) end
  local f = io.open(os.getenv('NVIM_RESULT'), 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd(ok and 'qall!' or 'cquit! 1') -- qall!: never save a buffer
end
-- scheduled out of VimEnter: autocommands (the snippet's BufReadPost) do not nest inside it
vim.api.nvim_create_autocmd('VimEnter', { once = true, callback = function() vim.schedule(flow) end })
